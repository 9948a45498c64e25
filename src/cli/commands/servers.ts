import type { Command } from 'commander';
import { ZiggieError } from '../../core/errors.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

interface ServerRow {
  name: string;
  transport: string;
  source: string;
  status: { state: string; reason?: string; era?: string; restarts: number };
}

/** `ziggie servers list|add|remove|health`: upstream MCP servers of a running Ziggie. */
export function registerServers(program: Command): void {
  const servers = program.command('servers').description('list, add, remove and check upstream MCP servers');

  remoteOptions(servers.command('list').description('list upstream servers and their state')).action(
    async (flags: RemoteFlags) => {
      const { servers: rows } = await clientFor(flags).get<{ servers: ServerRow[] }>('/api/mcp/servers');
      if (flags.json) return printJson(rows);
      printTable(
        rows.map((s) => ({
          name: s.name,
          transport: s.transport,
          state: s.status.state,
          era: s.status.era,
          restarts: s.status.restarts,
          source: s.source,
          reason: s.status.reason,
        })),
        ['name', 'transport', 'state', 'era', 'restarts', 'source', 'reason'],
        'no upstream servers configured',
      );
    },
  );

  servers
    .command('add <name>')
    .description('add an upstream at run time (stored; survives restarts)')
    .option('--command <cmd>', 'stdio: the program to run')
    .option('--arg <arg>', 'stdio: an argument (repeat for more)', collect, [])
    .option('--env <KEY=VALUE>', 'stdio: an environment variable (repeat)', collect, [])
    .option('--cwd <dir>', 'stdio: working directory')
    .option('--url <url>', 'remote: the server URL')
    .option('--transport <kind>', 'remote: http (default), sse or ws')
    .option('--header <Name: value>', 'remote: an HTTP header (repeat)', collect, [])
    .option('--lazy', 'connect on first use instead of now')
    .option('--gateway <url>', 'the running Ziggie (default $ZIGGIE_URL or http://127.0.0.1:4000)')
    .option('--json', 'machine-readable JSON output')
    .action(async (name: string, flags: AddFlags) => {
      const body = addBody(name, flags);
      const created = await clientFor({ url: flags.gateway }).post<ServerRow>('/api/mcp/servers', body);
      if (flags.json) return printJson(created);
      process.stdout.write(`added ${created.name} (${created.transport}): ${created.status.state}\n`);
    });

  remoteOptions(servers.command('remove <name>').description('remove an upstream added at run time')).action(
    async (name: string, flags: RemoteFlags) => {
      await clientFor(flags).delete(`/api/mcp/servers/${encodeURIComponent(name)}`);
      if (flags.json) return printJson({ removed: name });
      process.stdout.write(`removed ${name}\n`);
    },
  );

  remoteOptions(servers.command('health').description('health of every upstream')).action(
    async (flags: RemoteFlags) => {
      const health = await clientFor(flags).get<{ servers: Record<string, string>; overall: string }>(
        '/api/mcp/health',
      );
      if (flags.json) return printJson(health);
      printTable(
        Object.entries(health.servers).map(([name, status]) => ({ name, health: status })),
        ['name', 'health'],
        'no upstream servers configured',
      );
      process.stdout.write(`overall: ${health.overall}\n`);
      if (health.overall !== 'healthy') process.exitCode = 1;
    },
  );
}

interface AddFlags {
  json?: boolean;
  url?: string;
  command?: string;
  arg: string[];
  env: string[];
  cwd?: string;
  transport?: string;
  header: string[];
  lazy?: boolean;
  gateway?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The POST body for `/api/mcp/servers`, in the same shape as an `mcpServers` entry. */
function addBody(name: string, flags: AddFlags): Record<string, unknown> {
  if (Boolean(flags.command) === Boolean(flags.url)) {
    throw new ZiggieError(
      'CLI_USAGE',
      'servers add: give either --command (stdio) or --url (remote), not both',
    );
  }
  const common = { name, ...(flags.lazy ? { connect: 'lazy' } : {}) };
  if (flags.command) {
    return {
      ...common,
      command: flags.command,
      args: flags.arg,
      env: Object.fromEntries(flags.env.map((pair) => splitPair(pair, '=', '--env'))),
      ...(flags.cwd ? { cwd: flags.cwd } : {}),
    };
  }
  return {
    ...common,
    url: flags.url,
    ...(flags.transport ? { transport: flags.transport } : {}),
    headers: Object.fromEntries(flags.header.map((pair) => splitPair(pair, ':', '--header'))),
  };
}

function splitPair(pair: string, separator: string, flag: string): [string, string] {
  const at = pair.indexOf(separator);
  if (at <= 0) throw new ZiggieError('CLI_USAGE', `${flag}: expected KEY${separator}VALUE (got "${pair}")`);
  return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
}
