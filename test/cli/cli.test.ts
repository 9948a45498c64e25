import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as ModernClient } from '@modelcontextprotocol/client';
import { StdioClientTransport as ModernStdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  BIN,
  expectFailure,
  killAll,
  type RunningZiggie,
  ziggie as runZiggie,
  startZiggieAt,
} from '../helpers/cli-runner.ts';
import { EVERYTHING_ENTRY, everythingStdio } from '../helpers/ziggie-harness.ts';

/**
 * The real `bin/ziggie.js`, run as a child process (argument arrays, never a shell), against a real
 * Ziggie started by `ziggie start` with server-everything as its upstream.
 */

const dir = mkdtempSync(join(tmpdir(), 'ziggie-cli-'));

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `ziggie <args>` to completion in the temp dir. */
const ziggie = (args: readonly string[], env: Record<string, string> = {}) =>
  runZiggie(args, { cwd: dir, env });

let counter = 0;
/** Writes a ziggie.yaml (server on a free port, data in its own temp dir) and returns its path. */
function writeConfig(config: Record<string, unknown>): string {
  const name = `config-${++counter}`;
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    stringify({ server: { port: 0 }, storage: { dataDir: join(dir, `${name}-data`) }, ...config }),
  );
  return path;
}

describe.concurrent('ziggie --help', () => {
  it.each([
    [[], 'Usage: ziggie [options] [command]', ['start', 'mcp', 'servers', 'tools', 'call']],
    [
      ['start'],
      'Usage: ziggie start [options]',
      ['--config', '--mcp-config', '--port', '--host', '--data-dir'],
    ],
    [['mcp'], 'Usage: ziggie mcp [options]', ['--config', '--mcp-config', '--data-dir']],
    [['servers'], 'Usage: ziggie servers [options] [command]', ['list', 'add', 'remove', 'health']],
    [['servers', 'list'], 'Usage: ziggie servers list [options]', ['--gateway', '--url', '--json']],
    [
      ['servers', 'add'],
      'Usage: ziggie servers add [options] <name>',
      ['--command', '--arg', '--env', '--cwd', '--url', '--transport', '--header', '--lazy', '--gateway'],
    ],
    [['servers', 'remove'], 'Usage: ziggie servers remove [options] <name>', ['--gateway']],
    [['servers', 'health'], 'Usage: ziggie servers health [options]', ['--gateway', '--json']],
    [['tools'], 'Usage: ziggie tools [options] [command]', ['list', 'approve']],
    [['tools', 'list'], 'Usage: ziggie tools list [options]', ['--server', '--gateway', '--json']],
    [['tools', 'approve'], 'Usage: ziggie tools approve [options] <tool>', ['--server', '--gateway']],
    [['call'], 'Usage: ziggie call [options] <tool>', ['--args', '--gateway', '--json']],
  ])('ziggie %j --help', async (command, usage, mentions) => {
    const run = await ziggie([...command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout.startsWith(usage)).toBe(true);
    for (const word of mentions) expect(run.stdout).toContain(word);
  });

  it('a bare command group shows its help', async () => {
    const run = await ziggie(['servers']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: ziggie servers');
  });

  it('--version prints the version', async () => {
    const run = await ziggie(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });
});

describe.concurrent('usage errors', () => {
  it('an unknown command names itself and the help to read', async () => {
    expectFailure(
      await ziggie(['strat']),
      'CLI_USAGE',
      "unknown command 'strat' (Did you mean start?) (see `ziggie --help`)",
    );
  });

  it('an unknown subcommand suggests the nearest one', async () => {
    expectFailure(
      await ziggie(['servers', 'lst']),
      'CLI_USAGE',
      "unknown command 'lst' (Did you mean list?) (see `ziggie servers --help`)",
    );
  });

  it('an unknown option', async () => {
    expectFailure(
      await ziggie(['tools', 'list', '--sever', 'x']),
      'CLI_USAGE',
      "unknown option '--sever' (Did you mean --server?) (see `ziggie tools list --help`)",
    );
  });

  it('a missing argument', async () => {
    expectFailure(
      await ziggie(['call']),
      'CLI_USAGE',
      "missing required argument 'tool' (see `ziggie call --help`)",
    );
  });

  it('--gateway that is not an http URL', async () => {
    expectFailure(
      await ziggie(['servers', 'list', '--gateway', 'localhost:4000']),
      'CLI_USAGE',
      '--gateway: expected the http:// URL of a running Ziggie, e.g. http://127.0.0.1:4000 (got "localhost:4000")',
    );
  });

  it('no Ziggie at the address', async () => {
    const closed = await freePort();
    expectFailure(
      await ziggie(['servers', 'list'], { ZIGGIE_URL: `http://127.0.0.1:${closed}` }),
      'GATEWAY_UNREACHABLE',
      new RegExp(`^no Ziggie answering at http://127\\.0\\.0\\.1:${closed} \\(.*\\); start one with`),
    );
  });

  it('an address that answers but is not a Ziggie', async () => {
    const { server, url } = await plainHttpServer();
    try {
      expectFailure(
        await ziggie(['tools', 'list', '--gateway', url]),
        'GATEWAY_UNREACHABLE',
        `${url} does not look like a Ziggie: GET /api/mcp/tools answered HTTP 200 with a body that is not JSON`,
      );
    } finally {
      server.close();
    }
  });
});

describe.concurrent('ziggie start: bad configuration', () => {
  it('an unknown key exits 1 with one line naming the key', async () => {
    const path = writeConfig({ gateway: { retsart: { initialDelayMs: 5 } } });
    expectFailure(
      await ziggie(['start', '--config', path]),
      'CONFIG_INVALID',
      `${path}: gateway.retsart: unknown key (did you mean "restart"?)`,
    );
  });

  it('several problems still make one line', async () => {
    const path = writeConfig({
      logging: { level: 'loud' },
      mcpServers: { a: { command: 'x', url: 'http://h' } },
    });
    expectFailure(
      await ziggie(['start', '--config', path]),
      'CONFIG_INVALID',
      `${path}: logging.level: expected one of fatal, error, warn, info, debug, trace, silent (got "loud"); ` +
        'mcpServers.a.url: not allowed together with "command": a server is either stdio (command) or remote (url)',
    );
  });

  it('an unset variable names the key and the variable', async () => {
    const path = join(dir, 'env.yaml');
    writeFileSync(
      path,
      'mcpServers:\n  gh:\n    url: https://api.example.com/mcp\n    headers:\n      Authorization: Bearer ${GH_TOKEN}\n',
    );
    expectFailure(
      await ziggie(['start', '-c', path]),
      'CONFIG_INVALID',
      `${path}: mcpServers.gh.headers.Authorization: environment variable GH_TOKEN is not set (write \${GH_TOKEN:-default} to give a default)`,
    );
  });

  it('a missing config file', async () => {
    const path = join(dir, 'missing.yaml');
    expectFailure(
      await ziggie(['start', '--config', path]),
      'CONFIG_NOT_FOUND',
      `config file not found: ${path}`,
    );
  });

  it('a missing --mcp-config file', async () => {
    const path = join(dir, 'claude.json');
    expectFailure(
      await ziggie(['start', '--mcp-config', path]),
      'CONFIG_NOT_FOUND',
      `MCP client config not found: ${path}`,
    );
  });

  it('a bad --port', async () => {
    expectFailure(
      await ziggie(['start', '--port', '80a']),
      'CLI_USAGE',
      '--port: expected a port number 0-65535, 0 for any free port (got "80a")',
    );
  });

  it('a port in use names the setting', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const path = writeConfig({});
      expectFailure(
        await ziggie(['start', '--config', path, '--port', String(port)]),
        'CONFIG_INVALID',
        `server.port: 127.0.0.1:${port} is already in use; stop the other process or choose another port (--port)`,
      );
    } finally {
      blocker.close();
    }
  });
});

describe('against a running Ziggie', () => {
  let server: RunningZiggie;
  let url = '';
  let banner = '';
  const remote = (args: readonly string[]) => ziggie([...args, '--gateway', url]);

  beforeAll(async () => {
    server = await startZiggieAt(writeConfig({ mcpServers: { everything: everythingStdio() } }), dir);
    ({ url, banner } = server);
  });

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('start prints the bound address (port 0 resolved) and the endpoints', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(banner).toContain(`MCP endpoint   ${url}/mcp  (1/1 upstreams healthy`);
    expect(banner).toContain(`${url}/metrics`);
  });

  it('the HTTP endpoints answer', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${url}/readyz`)).json()).toMatchObject({ status: 'ready' });
  });

  it('servers list --json', async () => {
    const run = await remote(['servers', 'list', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      expect.objectContaining({
        name: 'everything',
        transport: 'stdio',
        source: 'config',
        status: expect.objectContaining({ state: 'healthy' }),
      }),
    ]);
  });

  it('servers list as a table', async () => {
    const run = await remote(['servers', 'list']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(
      /^NAME\s+TRANSPORT\s+STATE\s+ERA\s+RESTARTS\s+SOURCE\s+REASON$/,
    );
    expect(run.stdout).toMatch(/^everything\s+stdio\s+healthy\s+/m);
  });

  it('servers health', async () => {
    const run = await remote(['servers', 'health']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^everything\s+healthy$/m);
    expect(run.stdout).toMatch(/^overall: healthy$/m);
  });

  it('tools list --json', async () => {
    const run = await remote(['tools', 'list', '--json']);
    expect(run.code).toBe(0);
    const tools = JSON.parse(run.stdout) as Array<{ name: string; server: string; upstreamName: string }>;
    expect(tools).toContainEqual(
      expect.objectContaining({ name: 'everything__echo', server: 'everything', upstreamName: 'echo' }),
    );
    expect(tools.length).toBeGreaterThan(5);
  });

  it('tools list --server shows that server with names as on /mcp', async () => {
    const run = await remote(['tools', 'list', '--server', 'everything']);
    expect(run.code).toBe(0);
    const rows = run.stdout.trim().split('\n').slice(1);
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(row).toMatch(/^everything__\S+\s+everything\s/);
    expect(run.stdout).toMatch(/^everything__echo\s+everything\s+Echoes back the input string$/m);
  });

  it('tools list --server of an unknown server', async () => {
    expectFailure(
      await remote(['tools', 'list', '--server', 'nope']),
      'UPSTREAM_NOT_FOUND',
      'no server named "nope"',
    );
  });

  it('call prints the text content', async () => {
    const run = await remote(['call', 'everything__echo', '--args', '{"message":"hi"}']);
    expect(run).toMatchObject({ code: 0, stdout: 'Echo: hi\n', stderr: '' });
  });

  it('call --json prints the whole result', async () => {
    const run = await remote(['call', 'everything__get-sum', '--args', '{"a": 2, "b": 3}', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      success: true,
      result: { content: [{ type: 'text', text: expect.stringContaining('5') }] },
    });
  });

  it('call describes binary content instead of dumping it', async () => {
    const run = await remote(['call', 'everything__get-tiny-image']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\[image image\/png, \d+ bytes\]$/m);
  });

  it('call with arguments that are not JSON', async () => {
    expectFailure(
      await remote(['call', 'everything__echo', '--args', '{message: hi}']),
      'CLI_USAGE',
      /^--args: not valid JSON \(.+\)$/,
    );
  });

  it('call with JSON arguments that are not an object', async () => {
    expectFailure(
      await remote(['call', 'everything__echo', '--args', '["hi"]']),
      'CLI_USAGE',
      `--args: expected a JSON object such as '{"message":"hi"}' (got ["hi"])`,
    );
  });

  it('call with arguments that do not fit the schema', async () => {
    expectFailure(
      await remote(['call', 'everything__echo', '--args', '{"message": 3}']),
      'TOOL_ARGUMENTS_INVALID',
      /everything__echo/,
    );
  });

  it('call of an unknown tool', async () => {
    expectFailure(await remote(['call', 'everything__nope']), 'TOOL_NOT_FOUND', /everything__nope/);
  });

  it('call of a tool that reports an error', async () => {
    const run = await remote([
      'call',
      'everything__gzip-file-as-resource',
      '--args',
      JSON.stringify({ name: 'x.gz', data: 'http://127.0.0.1:1/nothing' }),
    ]);
    expectFailure(run, 'UPSTREAM_ERROR', /^everything__gzip-file-as-resource reported an error: .+/);
    expect(run.stdout).toBe('');
  });

  it('finds the Ziggie through $ZIGGIE_URL and --url too', async () => {
    const viaEnv = await ziggie(['servers', 'health', '--json'], { ZIGGIE_URL: url });
    const viaUrl = await ziggie(['servers', 'health', '--json', '--url', url]);
    for (const run of [viaEnv, viaUrl]) {
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({
        servers: { everything: 'healthy' },
        overall: 'healthy',
      });
    }
  });

  it('servers add / remove a second server at run time', async () => {
    const added = await remote([
      'servers',
      'add',
      'second',
      '--command',
      process.execPath,
      '--arg',
      EVERYTHING_ENTRY,
      '--arg',
      'stdio',
      '--env',
      'SECRET=hunter2',
    ]);
    expect(added).toMatchObject({ code: 0, stdout: 'added second (stdio): healthy\n' });

    const list = JSON.parse((await remote(['servers', 'list', '--json'])).stdout) as Array<{
      name: string;
      source: string;
      env?: Record<string, string>;
    }>;
    expect(list.map((s) => [s.name, s.source])).toEqual([
      ['everything', 'config'],
      ['second', 'runtime'],
    ]);
    expect(list[1]?.env).toEqual({ SECRET: '<redacted>' });

    const call = await remote(['call', 'second__echo', '--args', '{"message":"two"}']);
    expect(call.stdout).toBe('Echo: two\n');

    expectFailure(
      await remote(['servers', 'add', 'second', '--command', process.execPath]),
      'CONFLICT',
      'a server named "second" already exists',
    );

    const removed = await remote(['servers', 'remove', 'second']);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed second\n' });
    const after = JSON.parse((await remote(['servers', 'list', '--json'])).stdout) as Array<{ name: string }>;
    expect(after.map((s) => s.name)).toEqual(['everything']);
    expectFailure(await remote(['call', 'second__echo']), 'TOOL_NOT_FOUND', /second__echo/);
    expectFailure(
      await remote(['servers', 'remove', 'second']),
      'UPSTREAM_NOT_FOUND',
      'no server named "second"',
    );
  });

  it('servers add --url of a remote server, with --json', async () => {
    const run = await remote([
      'servers',
      'add',
      'self',
      '--url',
      `${url}/servers/everything/mcp`,
      '--lazy',
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      name: 'self',
      transport: 'http',
      connect: 'lazy',
      source: 'runtime',
      status: { state: 'not_started' },
    });
    expect(await remote(['servers', 'remove', 'self', '--json'])).toMatchObject({
      code: 0,
      stdout: '{\n  "removed": "self"\n}\n',
    });
  });

  it('servers add refuses bad input before and at the server', async () => {
    expectFailure(
      await remote(['servers', 'add', 'x']),
      'CLI_USAGE',
      'servers add: give --command <cmd> (stdio) or --url <url> (remote)',
    );
    expectFailure(
      await remote(['servers', 'add', 'x', '--command', 'a', '--url', 'http://h/mcp']),
      'CLI_USAGE',
      'servers add: give --command (stdio) or --url (remote), not both',
    );
    expectFailure(
      await remote(['servers', 'add', 'x', '--command', 'a', '--header', 'A: b']),
      'CLI_USAGE',
      'servers add: --header only for remote servers (--url)',
    );
    expectFailure(
      await remote(['servers', 'add', 'x', '--command', 'a', '--env', 'NOEQUALS']),
      'CLI_USAGE',
      '--env: expected KEY=VALUE (got "NOEQUALS")',
    );
    expectFailure(
      await remote(['servers', 'add', 'bad name', '--command', 'a']),
      'VALIDATION_FAILED',
      'name: invalid server name: expected 1-48 letters, digits, "_" or "-", starting with a letter or digit (got "bad name")',
    );
    expectFailure(
      await remote(['servers', 'add', 'x', '--url', 'ftp://h/mcp']),
      'VALIDATION_FAILED',
      'url: expected a URL starting with http:// or https:// for a remote server (got "ftp://h/mcp")',
    );
  });

  it('servers remove of a server from the config file', async () => {
    expectFailure(
      await remote(['servers', 'remove', 'everything']),
      'CONFLICT',
      'server "everything" is defined in the config file; remove it there',
    );
  });

  it('servers health exits 1 and names the server when one is down', async () => {
    const added = await remote(['servers', 'add', 'broken', '--command', join(dir, 'no-such-program')]);
    expect(added.code).toBe(0);
    try {
      const run = await remote(['servers', 'health']);
      expect(run.stdout).toMatch(/^broken\s+unhealthy: /m);
      expect(run.stdout).toMatch(/^overall: degraded$/m);
      expectFailure(run, 'UPSTREAM_UNAVAILABLE', /^degraded: broken is unhealthy: .+/);
    } finally {
      await remote(['servers', 'remove', 'broken']);
    }
  });

  it('tools approve', async () => {
    const byExposedName = await remote(['tools', 'approve', 'everything__echo']);
    expect(byExposedName).toMatchObject({ code: 0, stdout: 'approved everything/echo\n' });
    const byServer = await remote(['tools', 'approve', 'get-sum', '--server', 'everything', '--json']);
    expect(JSON.parse(byServer.stdout)).toEqual({ approved: { server: 'everything', tool: 'get-sum' } });
    expectFailure(
      await remote(['tools', 'approve', 'everything__nope']),
      'TOOL_NOT_FOUND',
      /everything__nope/,
    );
  });
});

describe('ziggie mcp', () => {
  it('serves the aggregate over stdio to an MCP client, from a Claude Desktop config', async () => {
    const claude = join(dir, 'claude_desktop_config.json');
    writeFileSync(
      claude,
      JSON.stringify({ globalShortcut: 'Ctrl+Space', mcpServers: { everything: everythingStdio() } }),
    );
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--mcp-config', claude, '--data-dir', join(dir, 'mcp-data')],
      cwd: dir,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe('ziggie');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('everything__echo');
      const result = await client.callTool({
        name: 'everything__echo',
        arguments: { message: 'over stdio' },
      });
      expect(result.content).toEqual([{ type: 'text', text: 'Echo: over stdio' }]);
    } finally {
      await client.close();
    }
    // Logs never reach stdout (it carries the protocol); at the default level nothing is logged.
    expect(stderr).not.toMatch(/"level":(30|20|10)/);
  });

  it('serves a 2026-07-28 client over stdio too (no initialize; the era is picked by the first request)', async () => {
    const path = writeConfig({ mcpServers: { everything: everythingStdio() } });
    const client = new ModernClient(
      { name: 'cli-test-2026', version: '1.0.0' },
      { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    client.setRequestHandler('elicitation/create', async () => ({
      action: 'accept',
      content: { name: 'Ada', color: 'blue', email: 'ada@example.com' },
    }));
    await client.connect(
      new ModernStdioClientTransport({
        command: process.execPath,
        args: [BIN, 'mcp', '--config', path, '--data-dir', join(dir, 'mcp-data-2026')],
        cwd: dir,
        stderr: 'ignore',
      }),
    );
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const echo = await client.callTool({
        name: 'everything__echo',
        arguments: { message: 'stateless stdio' },
      });
      expect(echo.content).toEqual([{ type: 'text', text: 'Echo: stateless stdio' }]);
      // The upstream's mid-call elicitation reaches this stateless client as input_required.
      const elicited = await client.callTool({
        name: 'everything__trigger-elicitation-request',
        arguments: {},
      });
      expect(JSON.stringify(elicited.content)).toContain('Ada');
    } finally {
      await client.close();
    }
  });

  it('a bad config fails before speaking MCP, with one line', async () => {
    const path = writeConfig({ mcpServers: { 'bad name': { command: 'x' } } });
    const run = await ziggie(['mcp', '--config', path]);
    expect(run.stdout).toBe('');
    expectFailure(
      run,
      'CONFIG_INVALID',
      new RegExp(`^${escapeRegExp(path)}: mcpServers\\["bad name"\\]: invalid server name`),
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An HTTP server that answers every request with an HTML page. */
async function plainHttpServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((socket) => {
    socket.once('data', () => {
      socket.end(
        'HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 13\r\nconnection: close\r\n\r\n<html></html>',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}
