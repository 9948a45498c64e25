import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { ZiggieError } from '../../core/errors.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

interface WorkspaceRow {
  name: string;
  path: string;
  status: string;
  priority: string;
  health: string;
  portRange: [number, number] | null;
  mcpServers: string[];
  metadata: Record<string, unknown>;
  source: string;
  ports?: Array<{ port: number; label: string | null; allocatedAt: string }>;
  agents?: { total: number; byTier: Record<string, number> };
}

interface DefinitionFlags extends RemoteFlags {
  path?: string;
  status?: string;
  priority?: string;
  health?: string;
  ports?: string;
  mcpServer: string[];
  meta: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function definitionOptions(command: Command): Command {
  return command
    .option('--path <path>', 'where the workspace lives')
    .option('--status <status>', 'active, planning, discovery, suspended or archived')
    .option('--priority <priority>', 'P0, P1 or P2')
    .option('--health <health>', 'on-track, at-risk or blocked')
    .option('--ports <range>', 'port range START-END (e.g. 3000-3099); "none" removes it')
    .option(
      '--mcp-server <name>',
      'an MCP server the workspace may use (repeat; replaces the list)',
      collect,
      [],
    )
    .option('--meta <key=value>', 'a metadata entry (repeat; merged into the metadata)', collect, []);
}

/** The JSON body for the flags given (only those). */
function definitionBody(
  flags: DefinitionFlags,
  metadata: Record<string, unknown> = {},
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const key of ['path', 'status', 'priority', 'health'] as const)
    if (flags[key] !== undefined) body[key] = flags[key];
  if (flags.ports !== undefined) body.portRange = flags.ports === 'none' ? null : flags.ports;
  if (flags.mcpServer.length > 0) body.mcpServers = flags.mcpServer;
  if (flags.meta.length > 0) {
    const merged = { ...metadata };
    for (const pair of flags.meta) {
      const at = pair.indexOf('=');
      if (at <= 0) throw new ZiggieError('CLI_USAGE', `--meta: expected key=value (got "${pair}")`);
      merged[pair.slice(0, at).trim()] = pair.slice(at + 1);
    }
    body.metadata = merged;
  }
  return body;
}

const range = (w: WorkspaceRow) => (w.portRange ? `${w.portRange[0]}-${w.portRange[1]}` : null);

function printWorkspace(w: WorkspaceRow): void {
  const lines: Array<[string, unknown]> = [
    ['name', w.name],
    ['path', w.path],
    ['status', w.status],
    ['priority', w.priority],
    ['health', w.health],
    ['ports', range(w) ?? '-'],
    ['mcpServers', w.mcpServers.join(', ') || '-'],
    ['metadata', Object.keys(w.metadata).length ? JSON.stringify(w.metadata) : '-'],
    ['source', w.source],
  ];
  if (w.agents) {
    const tiers = Object.entries(w.agents.byTier).map(([tier, n]) => `${tier} ${n}`);
    lines.push(['agents', `${w.agents.total}${tiers.length ? ` (${tiers.join(', ')})` : ''}`]);
  }
  if (w.ports) {
    lines.push([
      'allocated',
      w.ports.map((p) => (p.label ? `${p.port} (${p.label})` : String(p.port))).join(', ') || '-',
    ]);
  }
  for (const [key, value] of lines) process.stdout.write(`${`${key}:`.padEnd(12)}${String(value)}\n`);
}

async function allWorkspaces(flags: RemoteFlags, query = new URLSearchParams()): Promise<WorkspaceRow[]> {
  const client = clientFor(flags);
  const rows: WorkspaceRow[] = [];
  let cursor: string | null = null;
  do {
    if (cursor) query.set('cursor', cursor);
    query.set('limit', '1000');
    const page: { items: WorkspaceRow[]; nextCursor: string | null } = await client.get(
      `/api/workspaces?${query}`,
    );
    rows.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return rows;
}

/** `ziggie workspaces list|show|create|update|ports|export|import`. */
export function registerWorkspaces(program: Command): void {
  const workspaces = program
    .command('workspaces')
    .description('the workspace registry: list, create, change, hand out ports');

  remoteOptions(
    workspaces
      .command('list')
      .description('every workspace')
      .option('--status <status>', 'only this status')
      .option('--priority <priority>', 'only this priority')
      .option('--health <health>', 'only this health'),
  ).action(async (flags: RemoteFlags & { status?: string; priority?: string; health?: string }) => {
    const query = new URLSearchParams();
    for (const key of ['status', 'priority', 'health'] as const) if (flags[key]) query.set(key, flags[key]);
    const rows = await allWorkspaces(flags, query);
    if (flags.json) return printJson(rows);
    printTable(
      rows.map((w) => ({ ...w, ports: range(w), servers: w.mcpServers.join(',') || null })),
      ['name', 'status', 'priority', 'health', 'ports', 'servers', 'path'],
      'no workspaces',
    );
  });

  remoteOptions(
    workspaces.command('show <name>').description('one workspace, its allocated ports and agents'),
  ).action(async (name: string, flags: RemoteFlags) => {
    const workspace = await clientFor(flags).get<WorkspaceRow>(`/api/workspaces/${encodeURIComponent(name)}`);
    if (flags.json) return printJson(workspace);
    printWorkspace(workspace);
  });

  remoteOptions(
    definitionOptions(workspaces.command('create <name>').description('create a workspace')),
  ).action(async (name: string, flags: DefinitionFlags) => {
    if (!flags.path) throw new ZiggieError('CLI_USAGE', 'workspaces create: --path <path> is required');
    const created = await clientFor(flags).post<WorkspaceRow>('/api/workspaces', {
      name,
      ...definitionBody(flags),
    });
    if (flags.json) return printJson(created);
    process.stdout.write(
      `created workspace ${created.name}${range(created) ? ` (ports ${range(created)})` : ''}\n`,
    );
  });

  remoteOptions(
    definitionOptions(
      workspaces.command('update <name>').description('change the fields given of a workspace'),
    ),
  ).action(async (name: string, flags: DefinitionFlags) => {
    const client = clientFor(flags);
    const path = `/api/workspaces/${encodeURIComponent(name)}`;
    const current = flags.meta.length > 0 ? await client.get<WorkspaceRow>(path) : undefined;
    const body = definitionBody(flags, current?.metadata);
    if (Object.keys(body).length === 0) {
      throw new ZiggieError(
        'CLI_USAGE',
        'workspaces update: nothing to change (give --status, --health, --ports, …)',
      );
    }
    const updated = await client.patch<WorkspaceRow>(path, body);
    if (flags.json) return printJson(updated);
    printWorkspace(updated);
  });

  remoteOptions(
    workspaces
      .command('ports <name>')
      .description("hand out the next free port of the workspace's range (or give one back)")
      .option('--label <label>', 'what the port is for')
      .option('--release <port>', 'give this port back instead'),
  ).action(async (name: string, flags: RemoteFlags & { label?: string; release?: string }) => {
    const client = clientFor(flags);
    const base = `/api/workspaces/${encodeURIComponent(name)}/ports`;
    if (flags.release !== undefined) {
      if (!/^\d+$/.test(flags.release)) {
        throw new ZiggieError('CLI_USAGE', `--release: expected a port number (got "${flags.release}")`);
      }
      await client.delete(`${base}/${flags.release}`);
      if (flags.json) return printJson({ released: Number(flags.release), workspace: name });
      process.stdout.write(`released ${flags.release}\n`);
      return;
    }
    const allocated = await client.post<{ port: number }>(base, flags.label ? { label: flags.label } : {});
    if (flags.json) return printJson(allocated);
    process.stdout.write(`${allocated.port}\n`);
  });

  remoteOptions(
    workspaces
      .command('export')
      .description('the registry as YAML (the `workspaces:` block of ziggie.yaml)')
      .option('-o, --output <file>', 'write to this file instead of stdout'),
  ).action(async (flags: RemoteFlags & { output?: string }) => {
    const rows = await allWorkspaces(flags);
    const block = Object.fromEntries(
      rows.map((w) => [
        w.name,
        {
          path: w.path,
          status: w.status,
          priority: w.priority,
          health: w.health,
          portRange: w.portRange,
          mcpServers: w.mcpServers,
          metadata: w.metadata,
        },
      ]),
    );
    const text = flags.json
      ? `${JSON.stringify({ workspaces: block }, null, 2)}\n`
      : toYaml({ workspaces: block });
    if (flags.output) await writeFile(flags.output, text);
    else process.stdout.write(text);
  });

  remoteOptions(
    workspaces
      .command('import <file>')
      .description('create or update workspaces from a YAML or JSON file (all or nothing)'),
  ).action(async (file: string, flags: RemoteFlags) => {
    const document = await readDocument(file);
    const block =
      document !== null && typeof document === 'object' && 'workspaces' in document
        ? (document as { workspaces: unknown }).workspaces
        : document;
    const result = await clientFor(flags).post<{ created: string[]; updated: string[] }>(
      '/api/workspaces/import',
      {
        workspaces: block,
      },
    );
    if (flags.json) return printJson(result);
    process.stdout.write(`created ${result.created.length}, updated ${result.updated.length}\n`);
  });
}

/** A YAML (or JSON, which YAML reads too) file; `-` is stdin. */
export async function readDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new ZiggieError(
      'CLI_USAGE',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  try {
    return parseYaml(text);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new ZiggieError('CLI_USAGE', `${file}: not valid YAML or JSON: ${reason}`);
  }
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}
