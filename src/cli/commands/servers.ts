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

  remoteOptions(
    servers
      .command('add <name>')
      .description('add an upstream at run time (stored; survives restarts)')
      .option('--command <cmd>', 'stdio: the program to run')
      .option('--arg <arg>', 'stdio: an argument (repeat for more)', collect, [])
      .option('--env <KEY=VALUE>', 'stdio: an environment variable (repeat)', collect, [])
      .option('--cwd <dir>', 'stdio: working directory')
      .option('--url <url>', 'remote: the server URL')
      .option('--transport <kind>', 'remote: http (default; ws for ws:// URLs), sse or ws')
      .option('--header <Name: value>', 'remote: an HTTP header (repeat)', collect, [])
      .option('--lazy', 'connect on first use instead of now')
      .option('--timeout-ms <ms>', 'per-call timeout (default gateway.callTimeoutMs)')
      .option('--protocol <era>', 'auto (default), 2025-11-25 or 2026-07-28'),
    { urlAlias: false },
  ).action(async (name: string, flags: AddFlags) => {
    const body = addBody(name, flags);
    const created = await clientFor({ gateway: flags.gateway, token: flags.token }).post<ServerRow>(
      '/api/mcp/servers',
      body,
    );
    if (flags.json) return printJson(created);
    const reason = created.status.reason ? ` (${created.status.reason})` : '';
    process.stdout.write(`added ${created.name} (${created.transport}): ${created.status.state}${reason}\n`);
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
      if (flags.json) printJson(health);
      else {
        printTable(
          Object.entries(health.servers).map(([name, status]) => ({ name, health: status })),
          ['name', 'health'],
          'no upstream servers configured',
        );
        process.stdout.write(`overall: ${health.overall}\n`);
      }
      if (health.overall !== 'healthy') {
        const entries = Object.entries(health.servers);
        const unhealthy = entries.filter(([, word]) => word.startsWith('unhealthy'));
        const bad = unhealthy.length ? unhealthy : entries.filter(([, word]) => word !== 'healthy');
        throw new ZiggieError(
          'UPSTREAM_UNAVAILABLE',
          `${health.overall}: ${bad.map(([name, word]) => `${name} is ${word}`).join(', ')}`,
        );
      }
    },
  );
}

interface AddFlags {
  json?: boolean;
  gateway?: string;
  token?: string;
  url?: string;
  command?: string;
  arg: string[];
  env: string[];
  cwd?: string;
  transport?: string;
  header: string[];
  lazy?: boolean;
  timeoutMs?: string;
  protocol?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The POST body for `/api/mcp/servers`, in the same shape as an `mcpServers` entry. */
function addBody(name: string, flags: AddFlags): Record<string, unknown> {
  if (flags.command !== undefined && flags.url !== undefined) {
    throw new ZiggieError('CLI_USAGE', 'servers add: give --command (stdio) or --url (remote), not both');
  }
  if (flags.command === undefined && flags.url === undefined) {
    throw new ZiggieError('CLI_USAGE', 'servers add: give --command <cmd> (stdio) or --url <url> (remote)');
  }
  const stdioOnly = [flags.arg.length && '--arg', flags.env.length && '--env', flags.cwd && '--cwd'];
  const remoteOnly = [flags.transport && '--transport', flags.header.length && '--header'];
  const misplaced = (flags.command === undefined ? stdioOnly : remoteOnly).filter(Boolean);
  if (misplaced.length > 0) {
    const kind = flags.command === undefined ? 'stdio servers (--command)' : 'remote servers (--url)';
    throw new ZiggieError('CLI_USAGE', `servers add: ${misplaced.join(', ')} only for ${kind}`);
  }
  const common = {
    name,
    ...(flags.lazy ? { connect: 'lazy' } : {}),
    ...(flags.timeoutMs === undefined ? {} : { timeoutMs: parseTimeout(flags.timeoutMs) }),
    ...(flags.protocol === undefined ? {} : { protocol: flags.protocol }),
  };
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

function parseTimeout(value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new ZiggieError(
      'CLI_USAGE',
      `--timeout-ms: expected a positive whole number of milliseconds (got "${value}")`,
    );
  }
  return ms;
}

function splitPair(pair: string, separator: string, flag: string): [string, string] {
  const at = pair.indexOf(separator);
  if (at <= 0) throw new ZiggieError('CLI_USAGE', `${flag}: expected KEY${separator}VALUE (got "${pair}")`);
  return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
}
