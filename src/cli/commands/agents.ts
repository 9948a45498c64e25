import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { ZiggieError } from '../../core/errors.ts';
import type { ApiClient } from '../api-client.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';
import { readDocument } from './workspaces.ts';

interface AgentRow {
  id: string;
  name: string;
  tier: string;
  team: string | null;
  workspace: string | null;
  parent: string | null;
  skills: string[];
  specialization: string | null;
  status: string;
  capacity: number;
  workload: number;
  qualityScore: number;
  tasksCompleted: number;
  avgCompletionMs: number | null;
  executor: Record<string, unknown> | null;
  metadata: Record<string, unknown>;
  createdAt?: string;
  updatedAt?: string;
}

interface TreeNode {
  id: string;
  name: string;
  tier: string;
  team: string | null;
  status: string;
  children: TreeNode[];
}

interface FilterFlags extends RemoteFlags {
  tier?: string;
  team?: string;
  skill?: string;
  workspace?: string;
  status?: string;
  parent?: string;
}

interface FieldFlags extends RemoteFlags {
  name?: string;
  tier?: string;
  team?: string;
  workspace?: string;
  parent?: string;
  skill: string[];
  specialization?: string;
  status?: string;
  capacity?: string;
  executor?: string;
}

const FILTERS = ['tier', 'team', 'skill', 'workspace', 'status', 'parent'] as const;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function filterOptions(command: Command): Command {
  return command
    .option('--tier <tier>', 'L0, L1, L2 or L3')
    .option('--team <team>', 'e.g. BMAD, Elite-Art')
    .option('--skill <skill>', 'agents with this skill')
    .option('--workspace <name>', 'agents of this workspace')
    .option('--status <status>', 'idle, assigned, working, blocked, offline or disabled')
    .option('--parent <id>', 'agents directly under this one');
}

function fieldOptions(command: Command): Command {
  return command
    .option('--name <name>', 'display name')
    .option('--tier <tier>', 'L0, L1, L2 or L3')
    .option('--team <team>', 'e.g. BMAD, Elite-Art ("none" to clear)')
    .option('--workspace <name>', 'its workspace ("none" to clear)')
    .option('--parent <id>', 'the agent it reports to ("none" to clear)')
    .option('--skill <skill>', 'a skill (repeat; replaces the list)', collect, [])
    .option('--specialization <text>', 'what it specializes in')
    .option('--capacity <n>', 'tasks it may hold at once')
    .option(
      '--executor <json>',
      'how the orchestrator runs it, e.g. \'{"type":"shell","command":"claude","args":["-p"]}\'',
    );
}

function filterQuery(flags: FilterFlags): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of FILTERS) if (flags[key]) query.set(key, flags[key]);
  return query;
}

/** The JSON body for the field flags given (only those). */
function fieldBody(flags: FieldFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const clearable = (value: string) => (value === 'none' ? null : value);
  if (flags.name !== undefined) body.name = flags.name;
  if (flags.tier !== undefined) body.tier = flags.tier;
  if (flags.team !== undefined) body.team = clearable(flags.team);
  if (flags.workspace !== undefined) body.workspace = clearable(flags.workspace);
  if (flags.parent !== undefined) body.parent = clearable(flags.parent);
  if (flags.skill.length > 0) body.skills = flags.skill;
  if (flags.specialization !== undefined) body.specialization = flags.specialization;
  if (flags.status !== undefined) body.status = flags.status;
  if (flags.capacity !== undefined) {
    if (!/^\d+$/.test(flags.capacity)) {
      throw new ZiggieError('CLI_USAGE', `--capacity: expected a whole number (got "${flags.capacity}")`);
    }
    body.capacity = Number(flags.capacity);
  }
  if (flags.executor !== undefined) {
    try {
      body.executor = JSON.parse(flags.executor);
    } catch (error) {
      throw new ZiggieError('CLI_USAGE', `--executor: not valid JSON (${(error as Error).message})`);
    }
  }
  return body;
}

function printAgent(agent: AgentRow): void {
  const lines: Array<[string, unknown]> = [
    ['id', agent.id],
    ['name', agent.name],
    ['tier', agent.tier],
    ['team', agent.team ?? '-'],
    ['workspace', agent.workspace ?? '-'],
    ['parent', agent.parent ?? '-'],
    ['skills', agent.skills.join(', ') || '-'],
    ['specialization', agent.specialization ?? '-'],
    ['status', agent.status],
    ['load', `${agent.workload}/${agent.capacity}`],
    ['quality', agent.qualityScore],
    ['completed', agent.tasksCompleted],
    ['executor', agent.executor ? JSON.stringify(agent.executor) : '-'],
  ];
  for (const [key, value] of lines) process.stdout.write(`${`${key}:`.padEnd(16)}${String(value)}\n`);
}

async function allAgents(client: ApiClient, query: URLSearchParams): Promise<AgentRow[]> {
  const rows: AgentRow[] = [];
  let cursor: string | null = null;
  query.set('limit', '1000');
  do {
    if (cursor) query.set('cursor', cursor);
    const page: { items: AgentRow[]; nextCursor: string | null } = await client.get(`/api/agents?${query}`);
    rows.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return rows;
}

/** An agent as an import file holds it: its definition, without timestamps or empty fields. */
function exported(agent: AgentRow): Record<string, unknown> {
  const { createdAt: _, updatedAt: __, ...fields } = agent;
  return Object.fromEntries(
    Object.entries(fields).filter(
      ([, value]) =>
        value !== null &&
        !(Array.isArray(value) && value.length === 0) &&
        !(typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0),
    ),
  );
}

function printTree(nodes: readonly TreeNode[], depth = 0): void {
  for (const node of nodes) {
    const tags = [node.tier, node.team, node.status === 'idle' ? undefined : node.status]
      .filter(Boolean)
      .join(', ');
    process.stdout.write(`${'  '.repeat(depth)}${node.id}  ${node.name} [${tags}]\n`);
    printTree(node.children, depth + 1);
  }
}

/** `ziggie agents list|show|create|update|disable|import|export|tree`. */
export function registerAgents(program: Command): void {
  const agents = program
    .command('agents')
    .description('the agent registry: query, register, change, import and export agents');

  remoteOptions(
    filterOptions(agents.command('list').description('agents, by id'))
      .option('--limit <n>', 'agents per page (1-1000)', '50')
      .option('--cursor <cursor>', 'the page after the one that printed this cursor')
      .option('--all', 'every page'),
  ).action(async (flags: FilterFlags & { limit: string; cursor?: string; all?: boolean }) => {
    const client = clientFor(flags);
    const query = filterQuery(flags);
    let page: { items: AgentRow[]; nextCursor: string | null };
    if (flags.all) page = { items: await allAgents(client, query), nextCursor: null };
    else {
      query.set('limit', flags.limit);
      if (flags.cursor) query.set('cursor', flags.cursor);
      page = await client.get(`/api/agents?${query}`);
    }
    if (flags.json) return printJson(page);
    printTable(
      page.items.map((a) => ({ ...a, load: `${a.workload}/${a.capacity}` })),
      ['id', 'name', 'tier', 'team', 'workspace', 'status', 'load', 'parent'],
      'no agents',
    );
    if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
  });

  remoteOptions(agents.command('show <id>').description('one agent')).action(
    async (id: string, flags: RemoteFlags) => {
      const agent = await clientFor(flags).get<AgentRow>(`/api/agents/${encodeURIComponent(id)}`);
      if (flags.json) return printJson(agent);
      printAgent(agent);
    },
  );

  remoteOptions(fieldOptions(agents.command('create <id>').description('register an agent'))).action(
    async (id: string, flags: FieldFlags) => {
      if (!flags.name || !flags.tier)
        throw new ZiggieError('CLI_USAGE', 'agents create: --name and --tier are required');
      const agent = await clientFor(flags).post<AgentRow>('/api/agents', { id, ...fieldBody(flags) });
      if (flags.json) return printJson(agent);
      process.stdout.write(
        `created ${agent.id} (${agent.tier}${agent.parent ? ` under ${agent.parent}` : ''})\n`,
      );
    },
  );

  remoteOptions(
    fieldOptions(agents.command('update <id>').description('change the fields given of an agent')).option(
      '--status <status>',
      'idle, assigned, working, blocked, offline or disabled',
    ),
  ).action(async (id: string, flags: FieldFlags) => {
    const body = fieldBody(flags);
    if (Object.keys(body).length === 0) {
      throw new ZiggieError(
        'CLI_USAGE',
        'agents update: nothing to change (give --tier, --parent, --skill, …)',
      );
    }
    const agent = await clientFor(flags).patch<AgentRow>(`/api/agents/${encodeURIComponent(id)}`, body);
    if (flags.json) return printJson(agent);
    printAgent(agent);
  });

  remoteOptions(agents.command('disable <id>').description('disable an agent (status disabled)')).action(
    async (id: string, flags: RemoteFlags) => {
      const agent = await clientFor(flags).patch<AgentRow>(`/api/agents/${encodeURIComponent(id)}`, {
        status: 'disabled',
      });
      if (flags.json) return printJson(agent);
      process.stdout.write(`disabled ${agent.id}\n`);
    },
  );

  remoteOptions(
    agents
      .command('import <file>')
      .description('register the agents of a YAML or JSON file ({agents: [...]}), all or nothing'),
  ).action(async (file: string, flags: RemoteFlags) => {
    const document = await readDocument(file);
    const list = Array.isArray(document) ? document : (document as { agents?: unknown } | null)?.agents;
    if (!Array.isArray(list)) {
      throw new ZiggieError('CLI_USAGE', `${file}: expected a list of agents, or {agents: [...]}`);
    }
    const result = await clientFor(flags).post<{ imported: number }>('/api/agents/import', { agents: list });
    if (flags.json) return printJson(result);
    process.stdout.write(`imported ${result.imported} agents\n`);
  });

  remoteOptions(
    filterOptions(agents.command('export').description('the agents (matching the filters) as an import file'))
      .option('--format <format>', 'yaml or json', 'yaml')
      .option('-o, --output <file>', 'write to this file instead of stdout'),
  ).action(async (flags: FilterFlags & { format: string; output?: string }) => {
    if (flags.format !== 'yaml' && flags.format !== 'json') {
      throw new ZiggieError('CLI_USAGE', `--format: expected yaml or json (got "${flags.format}")`);
    }
    const rows = (await allAgents(clientFor(flags), filterQuery(flags))).map(exported);
    const text =
      flags.format === 'json' || flags.json
        ? `${JSON.stringify({ agents: rows }, null, 2)}\n`
        : toYaml({ agents: rows });
    if (flags.output) await writeFile(flags.output, text);
    else process.stdout.write(text);
  });

  remoteOptions(
    agents
      .command('tree')
      .description('the hierarchy, indented')
      .option('--root <id>', 'only under this agent')
      .option('--workspace <name>', 'only this workspace')
      .option('--depth <n>', 'levels below the roots'),
  ).action(async (flags: RemoteFlags & { root?: string; workspace?: string; depth?: string }) => {
    const query = new URLSearchParams();
    if (flags.root) query.set('root', flags.root);
    if (flags.workspace) query.set('workspace', flags.workspace);
    if (flags.depth) query.set('depth', flags.depth);
    const tree = await clientFor(flags).get<{ roots: TreeNode[]; total: number }>(
      `/api/agents/tree?${query}`,
    );
    if (flags.json) return printJson(tree);
    if (tree.roots.length === 0) process.stdout.write('no agents\n');
    printTree(tree.roots);
  });
}
