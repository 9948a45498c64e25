// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are config text with ${VAR} placeholders
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ZiggieError } from '../core/errors.ts';
import { type LoadConfigOptions, loadConfig } from './load-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'ziggie-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function file(text: string, ext = 'yaml'): string {
  const path = join(dir, `config-${++counter}.${ext}`);
  writeFileSync(path, text);
  return path;
}

function load(yaml: string, options: Partial<LoadConfigOptions> = {}) {
  return loadConfig({ path: file(yaml), env: {}, ...options });
}

/** The ZiggieError a load fails with (the test fails when it loads). */
async function failure(yaml: string, options: Partial<LoadConfigOptions> = {}): Promise<ZiggieError> {
  const error = await load(yaml, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the config to be rejected').toBeInstanceOf(ZiggieError);
  return error as ZiggieError;
}

/** The ZiggieError a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<ZiggieError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(ZiggieError);
  return error as ZiggieError;
}

/** The message of a rejected config, without the `<file>: ` prefix. */
async function problem(yaml: string, options: Partial<LoadConfigOptions> = {}): Promise<string> {
  const error = await failure(yaml, options);
  expect(error.code).toBe('CONFIG_INVALID');
  expect(error.message).not.toContain('\n');
  const prefix = `${error.details?.file}: `;
  expect(error.message.startsWith(prefix)).toBe(true);
  return error.message.slice(prefix.length);
}

describe('loadConfig: YAML and defaults', () => {
  it('gives every default for an empty file', async () => {
    const config = await load('');
    expect(config.gateway).toEqual({
      separator: '__',
      pinning: 'warn',
      callTimeoutMs: 60_000,
      connectTimeoutMs: 30_000,
      healthIntervalMs: 30_000,
      restart: { initialDelayMs: 1_000, maxDelayMs: 60_000 },
      breaker: { threshold: 5, halfOpenAfterMs: 30_000 },
      heldCalls: { ttlMs: 300_000, maxPerIdentity: 32 },
      tasks: {
        enabled: true,
        afterMs: 1_000,
        ttlMs: 3_600_000,
        pollIntervalMs: 1_000,
        maxPerIdentity: 32,
        leaseMs: 15_000,
      },
    });
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 4000,
      allowedHosts: [],
      allowedOrigins: [],
      maxBodyBytes: 4 * 1024 * 1024,
    });
    expect(config.storage).toEqual({ dataDir: '.ziggie' });
    expect(config.logging).toEqual({ level: 'info' });
    expect(config.mcpServers).toEqual({});
    expect(config.configPath).toMatch(/config-\d+\.yaml$/);
  });

  it('gives the defaults without any file', async () => {
    const config = await loadConfig({ env: {} });
    expect(config.server.port).toBe(4000);
    expect(config.configPath).toBeUndefined();
  });

  it('reads every section and keeps defaults for the keys left out', async () => {
    const config = await load(`
server:
  host: 0.0.0.0
  port: 4100
  allowedHosts: [ziggie.internal]
storage:
  url: postgres://postgres@127.0.0.1:5432/test
gateway:
  separator: '-'
  pinning: strict
  restart: { maxDelayMs: 5000 }
logging:
  level: debug
`);
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 4100, allowedHosts: ['ziggie.internal'] });
    expect(config.storage).toEqual({ url: 'postgres://postgres@127.0.0.1:5432/test', dataDir: '.ziggie' });
    expect(config.gateway.separator).toBe('-');
    expect(config.gateway.pinning).toBe('strict');
    expect(config.gateway.restart).toEqual({ initialDelayMs: 1_000, maxDelayMs: 5_000 });
    expect(config.logging.level).toBe('debug');
  });

  it('treats a section written empty (all of it commented out) as left out', async () => {
    const config = await load('gateway:\nmcpServers:\n  # everything: {command: node}\n');
    expect(config.gateway.pinning).toBe('warn');
    expect(config.mcpServers).toEqual({});
  });

  it('reports YAML syntax errors with the line', async () => {
    expect(await problem('server: [\n')).toMatch(/^\(file\): not valid YAML: .*line 2/);
  });

  it('rejects duplicate keys', async () => {
    expect(await problem('server:\n  port: 1\n  port: 2\n')).toMatch(
      /not valid YAML: Map keys must be unique/,
    );
  });

  it('rejects a document that is not a mapping', async () => {
    expect(await problem('- a\n- b\n')).toBe('(root): expected a mapping of top-level keys (got ["a","b"])');
    expect(await problem('just a string\n')).toBe(
      '(root): expected a mapping of top-level keys (got "just a string")',
    );
  });

  it('names a missing file with CONFIG_NOT_FOUND', async () => {
    const missing = join(dir, 'nope.yaml');
    const error = await rejection(loadConfig({ path: missing, env: {} }));
    expect(error).toMatchObject({ code: 'CONFIG_NOT_FOUND', message: `config file not found: ${missing}` });
  });

  it('names a file that cannot be read', async () => {
    const error = await rejection(loadConfig({ path: dir, env: {} }));
    expect(error).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `config file cannot be read: ${dir} (EISDIR)`,
    });
  });
});

describe('loadConfig: interpolation', () => {
  it('replaces ${VAR} and ${VAR:-default} in values, at any depth', async () => {
    const config = await load(
      `
server:
  host: \${HOST}
storage:
  dataDir: \${DATA:-/var/lib/ziggie}
mcpServers:
  gh:
    command: docker
    args: [run, -e, "TOKEN=\${GH_TOKEN}", "\${IMAGE:-ghcr.io/github/github-mcp-server}"]
    env: { GITHUB_TOKEN: "\${GH_TOKEN}" }
`,
      { env: { HOST: '10.0.0.1', GH_TOKEN: 'ghp_secret' } },
    );
    expect(config.server.host).toBe('10.0.0.1');
    expect(config.storage.dataDir).toBe('/var/lib/ziggie');
    const gh = config.mcpServers.gh;
    expect(gh?.transport === 'stdio' && gh.args).toEqual([
      'run',
      '-e',
      'TOKEN=ghp_secret',
      'ghcr.io/github/github-mcp-server',
    ]);
    expect(gh?.transport === 'stdio' && gh.env).toEqual({ GITHUB_TOKEN: 'ghp_secret' });
  });

  it('uses the default when the variable is set but empty; ${VAR} alone keeps the empty value', async () => {
    const config = await load('server:\n  host: ${H:-localhost}\nstorage:\n  dataDir: "x${EMPTY}y"\n', {
      env: { H: '', EMPTY: '' },
    });
    expect(config.server.host).toBe('localhost');
    expect(config.storage.dataDir).toBe('xy');
  });

  it('the variable wins over the default', async () => {
    const config = await load('server:\n  host: ${H:-localhost}\n', { env: { H: '::1' } });
    expect(config.server.host).toBe('::1');
  });

  it('writes $${ as a literal ${', async () => {
    const config = await load('storage:\n  dataDir: "/data/$${HOME}/x"\n', { env: { HOME: '/root' } });
    expect(config.storage.dataDir).toBe('/data/${HOME}/x');
  });

  it('reads numbers and booleans from variables (port: ${PORT:-4000})', async () => {
    const config = await load(
      'server:\n  port: ${PORT:-4000}\ngateway:\n  callTimeoutMs: ${T}\nmcpServers:\n  a:\n    command: x\n    enabled: ${ON:-false}\n',
      { env: { T: '1500' } },
    );
    expect(config.server.port).toBe(4000);
    expect(config.gateway.callTimeoutMs).toBe(1500);
    expect(config.mcpServers.a?.enabled).toBe(false);
  });

  it('a value from a variable is checked like any other', async () => {
    expect(await problem('server:\n  port: ${PORT}\n', { env: { PORT: 'http' } })).toBe(
      'server.port: expected a number (got "http")',
    );
  });

  it('an unset variable without default is an error naming the key path and the variable', async () => {
    expect(await problem('mcpServers:\n  gh:\n    command: x\n    env:\n      TOKEN: ${GH_TOKEN}\n')).toBe(
      'mcpServers.gh.env.TOKEN: environment variable GH_TOKEN is not set (write ${GH_TOKEN:-default} to give a default)',
    );
  });

  it('reports every unset variable at once, list items by index', async () => {
    const message = await problem(
      'server:\n  host: ${A}\nmcpServers:\n  s:\n    command: x\n    args: [ok, "${B}"]\n',
    );
    expect(message).toBe(
      'server.host: environment variable A is not set (write ${A:-default} to give a default); ' +
        'mcpServers.s.args[1]: environment variable B is not set (write ${B:-default} to give a default)',
    );
  });

  it('does not interpolate keys, and values never change the structure', async () => {
    const config = await load('mcpServers:\n  a:\n    command: x\n    env: { "${K}": "${V}" }\n', {
      env: { K: 'nope', V: 'a: [1, 2]\nb: 3' },
    });
    expect(config.mcpServers.a?.transport === 'stdio' && config.mcpServers.a.env).toEqual({
      '${K}': 'a: [1, 2]\nb: 3',
    });
  });
});

describe('loadConfig: unknown keys and wrong types', () => {
  it.each([
    ['gatway: {}', 'gatway: unknown key (did you mean "gateway"?)'],
    ['gateway:\n  retsart: {}', 'gateway.retsart: unknown key (did you mean "restart"?)'],
    [
      'gateway:\n  restart:\n    initialDelay: 5',
      'gateway.restart.initialDelay: unknown key (did you mean "initialDelayMs"?)',
    ],
    ['server:\n  prot: 1', 'server.prot: unknown key (did you mean "port"?)'],
    ['storage:\n  path: x', 'storage.path: unknown key (allowed: url, dataDir)'],
    ['logging:\n  format: json', 'logging.format: unknown key (allowed: level)'],
    [
      'mcpServers:\n  a:\n    command: x\n    argv: []',
      'mcpServers.a.argv: unknown key (did you mean "args"?)',
    ],
    [
      'tracing: {}',
      'tracing: unknown key (allowed: mcpServers, gateway, server, storage, logging, auth, audit, orchestrator, workspaces)',
    ],
  ])('%j', async (yaml, expected) => {
    expect(await problem(yaml)).toBe(expected);
  });

  it.each([
    ['server:\n  port: abc', 'server.port: expected a number (got "abc")'],
    ['server:\n  port: 70000', 'server.port: must be at most 65535 (got 70000)'],
    ['server:\n  port: -1', 'server.port: must be at least 0 (got -1)'],
    ['server:\n  port: 1.5', 'server.port: expected an integer (got 1.5)'],
    ['server:\n  host: ""', 'server.host: must not be empty (got "")'],
    ['server:\n  allowedHosts: example.com', 'server.allowedHosts: expected a list (got "example.com")'],
    ['server: 4000', 'server: expected a mapping (got 4000)'],
    ['gateway:\n  pinning: loud', 'gateway.pinning: expected one of off, warn, strict (got "loud")'],
    ['gateway:\n  callTimeoutMs: 0', 'gateway.callTimeoutMs: must be greater than 0 (got 0)'],
    [
      'gateway:\n  separator: "::"',
      'gateway.separator: expected 1-4 characters of letters, digits, "_" and "-" (got "::")',
    ],
    [
      'gateway:\n  breaker:\n    threshold: lots',
      'gateway.breaker.threshold: expected a number (got "lots")',
    ],
    [
      'logging:\n  level: verbose',
      'logging.level: expected one of fatal, error, warn, info, debug, trace, silent (got "verbose")',
    ],
    ['mcpServers: [a, b]', 'mcpServers: expected a mapping (got ["a","b"])'],
  ])('%j', async (yaml, expected) => {
    expect(await problem(yaml)).toBe(expected);
  });

  it('never echoes a storage URL (it may hold a password)', async () => {
    expect(await problem('storage:\n  url: "postgress://u:hunter2@db/x"')).toBe(
      'storage.url: expected postgres://…, postgresql://…, sqlite:<file> or :memory: (got a string)',
    );
  });

  it('reports the problems of the sections and of the servers together', async () => {
    expect(await problem('logging:\n  level: loud\nmcpServers:\n  a: {}\n')).toBe(
      'logging.level: expected one of fatal, error, warn, info, debug, trace, silent (got "loud"); ' +
        'mcpServers.a: needs "command" (a stdio server) or "url" (a remote server)',
    );
  });

  it('reports every problem at once, in details.issues too', async () => {
    const error = await failure('server:\n  port: x\n  hots: y\nlogging:\n  level: 3\n');
    expect(error.details?.issues).toEqual([
      { path: 'server.port', message: 'expected a number (got "x")' },
      { path: 'server.hots', message: 'unknown key (did you mean "host"?)' },
      {
        path: 'logging.level',
        message: 'expected one of fatal, error, warn, info, debug, trace, silent (got 3)',
      },
    ]);
    expect(error.message).toContain('server.hots: unknown key');
    expect(error.message).toContain('; logging.level: ');
  });
});

describe('loadConfig: the mcpServers block', () => {
  const servers = async (yaml: string) => (await load(`mcpServers:\n${yaml}`)).mcpServers;

  it('reads a stdio server {command, args, env, cwd} with the per-server defaults', async () => {
    const { fs } = await servers(
      '  fs:\n    command: npx\n    args: [-y, "@modelcontextprotocol/server-filesystem", /tmp]\n    env: { DEBUG: "1" }\n    cwd: /srv\n',
    );
    expect(fs).toEqual({
      name: 'fs',
      transport: 'stdio',
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'],
      env: { DEBUG: '1' },
      cwd: '/srv',
      enabled: true,
      connect: 'eager',
      protocol: 'auto',
    });
  });

  it('turns YAML numbers and booleans in args and env into strings', async () => {
    const { s } = await servers(
      '  s:\n    command: srv\n    args: [--port, 3000]\n    env: { VERBOSE: true }\n',
    );
    expect(s?.transport === 'stdio' && [s.args, s.env]).toEqual([['--port', '3000'], { VERBOSE: 'true' }]);
  });

  it('reads a remote server {url, headers} as Streamable HTTP', async () => {
    const { api } = await servers(
      '  api:\n    url: https://mcp.example.com/mcp\n    headers: { Authorization: Bearer x }\n',
    );
    expect(api).toEqual({
      name: 'api',
      transport: 'http',
      url: 'https://mcp.example.com/mcp',
      headers: { Authorization: 'Bearer x' },
      enabled: true,
      connect: 'eager',
      protocol: 'auto',
    });
  });

  it('infers ws from a ws:// or wss:// URL', async () => {
    const { live } = await servers('  live:\n    url: wss://example.com/mcp\n');
    expect(live?.transport).toBe('ws');
  });

  it.each([
    ['type: stdio', 'command: x', 'stdio'],
    ['transport: stdio', 'command: x', 'stdio'],
    ['type: http', 'url: http://h/mcp', 'http'],
    ['type: streamable-http', 'url: http://h/mcp', 'http'],
    ['transport: streamableHttp', 'url: http://h/mcp', 'http'],
    ['type: sse', 'url: http://h/sse', 'sse'],
    ['transport: sse', 'url: https://h/sse', 'sse'],
    ['type: ws', 'url: ws://h/mcp', 'ws'],
    ['transport: websocket', 'url: ws://h/mcp', 'ws'],
    ['{type: http, transport: streamable-http}', 'url: http://h/mcp', 'http'],
  ])('%s with %s is %s', async (kind, location, expected) => {
    const yaml = kind.startsWith('{')
      ? `  s:\n    ${kind.slice(1, -1).replace(', ', '\n    ')}\n    ${location}\n`
      : `  s:\n    ${kind}\n    ${location}\n`;
    expect((await servers(yaml)).s?.transport).toBe(expected);
  });

  it('reads the per-server keys enabled/disabled, connect, timeoutMs and protocol', async () => {
    const result = await servers(
      '  a:\n    command: x\n    enabled: false\n    connect: lazy\n    timeoutMs: 5000\n    protocol: "2026-07-28"\n' +
        '  b:\n    command: x\n    disabled: true\n' +
        '  c:\n    command: x\n    disabled: false\n    protocol: "2025-11-25"\n',
    );
    expect(result.a).toMatchObject({
      enabled: false,
      connect: 'lazy',
      timeoutMs: 5000,
      protocol: '2026-07-28',
    });
    expect(result.b?.enabled).toBe(false);
    expect(result.c).toMatchObject({ enabled: true, protocol: '2025-11-25' });
  });

  it('accepts and drops the keys other clients keep beside a server (autoApprove, alwaysAllow, description)', async () => {
    const { a } = await servers(
      '  a:\n    command: x\n    autoApprove: [read]\n    alwaysAllow: [read]\n    description: My server\n',
    );
    expect(a).not.toHaveProperty('autoApprove');
    expect(a).not.toHaveProperty('description');
  });

  it.each([
    [
      '  a:\n    command: x\n    url: http://h/mcp',
      'mcpServers.a.url: not allowed together with "command": a server is either stdio (command) or remote (url)',
    ],
    [
      '  a:\n    command: x\n    headers: { A: b }',
      'mcpServers.a.headers: only for remote servers; this is a stdio server',
    ],
    [
      '  a:\n    url: http://h/mcp\n    args: [x]\n    env: { A: b }',
      'mcpServers.a.args: only for stdio servers; this is a remote server; mcpServers.a.env: only for stdio servers; this is a remote server',
    ],
    [
      '  a:\n    type: http\n    command: x',
      'mcpServers.a.command: only for stdio servers; this is a remote server (type "http"); mcpServers.a.url: required for a remote server (type "http")',
    ],
    [
      '  a:\n    type: stdio\n    url: http://h/mcp',
      'mcpServers.a.url: only for remote servers; this is a stdio server (type "stdio"); mcpServers.a.command: required for a stdio server (type "stdio")',
    ],
    [
      '  a:\n    type: http\n    transport: sse\n    url: http://h/mcp',
      'mcpServers.a.transport: disagrees with type "http" (give one of them)',
    ],
    ['  a:\n    args: [x]', 'mcpServers.a: needs "command" (a stdio server) or "url" (a remote server)'],
    ['  a: {}', 'mcpServers.a: needs "command" (a stdio server) or "url" (a remote server)'],
    ['  a:', 'mcpServers.a: expected a mapping (got null)'],
    ['  a: npx server', 'mcpServers.a: expected a mapping (got "npx server")'],
    [
      '  a:\n    type: grpc\n    command: x',
      'mcpServers.a.type: expected one of stdio, http, streamable-http, streamableHttp, sse, ws, websocket (got "grpc")',
    ],
    ['  a:\n    command: ""', 'mcpServers.a.command: must not be empty (got "")'],
    ['  a:\n    command: [npx, x]', 'mcpServers.a.command: expected a string (got ["npx","x"])'],
    ['  a:\n    command: x\n    args: -y x', 'mcpServers.a.args: expected a list (got "-y x")'],
    ['  a:\n    command: x\n    args: [[1]]', 'mcpServers.a.args[0]: expected a string (got [1])'],
    ['  a:\n    command: x\n    env: [A=b]', 'mcpServers.a.env: expected a mapping (got ["A=b"])'],
    ['  a:\n    url: notaurl', 'mcpServers.a.url: expected a URL such as https://host/mcp (got "notaurl")'],
    [
      '  a:\n    url: localhost:3000/mcp',
      'mcpServers.a.url: expected a URL starting with http:// or https:// for a remote server (got "localhost:3000/mcp")',
    ],
    [
      '  a:\n    type: ws\n    url: http://h/mcp',
      'mcpServers.a.url: expected a URL starting with ws:// or wss:// for a remote server (type "ws") (got "http://h/mcp")',
    ],
    [
      '  a:\n    type: sse\n    url: ws://h/mcp',
      'mcpServers.a.url: expected a URL starting with http:// or https:// for a remote server (type "sse") (got "ws://h/mcp")',
    ],
    [
      '  a:\n    command: x\n    connect: later',
      'mcpServers.a.connect: expected one of eager, lazy (got "later")',
    ],
    ['  a:\n    command: x\n    timeoutMs: -5', 'mcpServers.a.timeoutMs: must be greater than 0 (got -5)'],
    [
      '  a:\n    command: x\n    protocol: "2024-11-05"',
      'mcpServers.a.protocol: expected one of auto, 2025-11-25, 2026-07-28 (got "2024-11-05")',
    ],
    [
      '  a:\n    command: x\n    enabled: maybe',
      'mcpServers.a.enabled: expected true or false (got "maybe")',
    ],
    [
      '  a:\n    command: x\n    enabled: true\n    disabled: true',
      'mcpServers.a.disabled: contradicts enabled: true (give one of them)',
    ],
  ])('rejects %j', async (yaml, expected) => {
    expect(await problem(`mcpServers:\n${yaml}\n`)).toBe(expected);
  });

  it('never echoes env or header values (they hold secrets)', async () => {
    const message = await problem(
      'mcpServers:\n  a:\n    url: http://h/mcp\n    headers: { Authorization: [Bearer, sk-123] }\n',
    );
    expect(message).toBe('mcpServers.a.headers.Authorization: expected a string (got a list)');
  });

  it.each([
    ['"my server"', 'mcpServers["my server"]', '"my server"'],
    ['-lead', 'mcpServers.-lead', '"-lead"'],
    ['a.b', 'mcpServers["a.b"]', '"a.b"'],
    ['x'.repeat(49), `mcpServers.${'x'.repeat(49)}`, `"${'x'.repeat(49)}"`],
  ])('rejects the server name %s', async (name, path, shown) => {
    expect(await problem(`mcpServers:\n  ${name}:\n    command: x\n`)).toBe(
      `${path}: invalid server name: expected 1-48 letters, digits, "_" or "-", starting with a letter or digit (got ${shown})`,
    );
  });

  it('reports the problems of every server at once', async () => {
    const error = await failure('mcpServers:\n  a: {}\n  b:\n    command: x\n  c:\n    url: nope\n');
    const issues = (error.details?.issues ?? []) as Array<{ path: string }>;
    expect(issues.map((i) => i.path)).toEqual(['mcpServers.a', 'mcpServers.c.url']);
  });
});

describe('loadConfig: --mcp-config (an MCP client JSON file)', () => {
  const claudeDesktop = {
    globalShortcut: 'Ctrl+Space',
    mcpServers: {
      filesystem: {
        command: 'npx',
        args: ['-y', '@modelcontextprotocol/server-filesystem', '/Users/me/Desktop'],
      },
      github: {
        command: 'docker',
        args: ['run', '-i', '--rm', '-e', 'GITHUB_PERSONAL_ACCESS_TOKEN', 'ghcr.io/github/github-mcp-server'],
        env: { GITHUB_PERSONAL_ACCESS_TOKEN: '${GH_TOKEN:-none}' },
      },
      linear: { type: 'http', url: 'https://mcp.linear.app/mcp', headers: { Authorization: 'Bearer ${LT}' } },
    },
    preferences: { quickEntryShortcut: 'off' },
  };

  it('adds its servers to those of ziggie.yaml and ignores its other keys', async () => {
    const mcpConfigPath = file(JSON.stringify(claudeDesktop), 'json');
    const config = await load('mcpServers:\n  local:\n    command: x\n', {
      mcpConfigPath,
      env: { LT: 'lin' },
    });
    expect(Object.keys(config.mcpServers)).toEqual(['local', 'filesystem', 'github', 'linear']);
    expect(config.mcpServers.github).toMatchObject({
      transport: 'stdio',
      command: 'docker',
      env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'none' },
    });
    expect(config.mcpServers.linear).toMatchObject({
      transport: 'http',
      headers: { Authorization: 'Bearer lin' },
    });
    expect(config).not.toHaveProperty('globalShortcut');
    expect(config).not.toHaveProperty('preferences');
  });

  it('works without a ziggie.yaml', async () => {
    const mcpConfigPath = file(JSON.stringify(claudeDesktop), 'json');
    const config = await loadConfig({ mcpConfigPath, env: { LT: 'x' } });
    expect(Object.keys(config.mcpServers)).toEqual(['filesystem', 'github', 'linear']);
  });

  it('reads a VS Code mcp.json (servers instead of mcpServers)', async () => {
    const mcpConfigPath = file(
      JSON.stringify({
        inputs: [],
        servers: { fetch: { type: 'stdio', command: 'uvx', args: ['mcp-server-fetch'] } },
      }),
      'json',
    );
    const config = await loadConfig({ mcpConfigPath, env: {} });
    expect(config.mcpServers.fetch).toMatchObject({ transport: 'stdio', command: 'uvx' });
  });

  it('a name in both files is an error naming the server and both files', async () => {
    const mcpConfigPath = file(JSON.stringify(claudeDesktop), 'json');
    const path = file('mcpServers:\n  github:\n    command: x\n');
    const error = await loadConfig({ path, mcpConfigPath, env: { LT: 'x' } }).catch(
      (e: unknown) => e as ZiggieError,
    );
    expect(error).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `${mcpConfigPath}: mcpServers.github: a server with this name is already defined in ${path}`,
    });
  });

  it('checks its entries like ziggie.yaml, naming the JSON file', async () => {
    const mcpConfigPath = file(
      JSON.stringify({ mcpServers: { bad: { command: 'x', url: 'http://h' } } }),
      'json',
    );
    const error = await rejection(loadConfig({ mcpConfigPath, env: {} }));
    expect(error.message).toBe(
      `${mcpConfigPath}: mcpServers.bad.url: not allowed together with "command": a server is either stdio (command) or remote (url)`,
    );
  });

  it('names unset variables in it', async () => {
    const mcpConfigPath = file(JSON.stringify({ mcpServers: { a: { command: '${CMD}' } } }), 'json');
    const error = await rejection(loadConfig({ mcpConfigPath, env: {} }));
    expect(error.message).toBe(
      `${mcpConfigPath}: mcpServers.a.command: environment variable CMD is not set (write \${CMD:-default} to give a default)`,
    );
  });

  it.each([
    ['{"mcpServers": {', /^\(file\): not valid JSON: /],
    ['[]', /^\(root\): expected a JSON object \(got \[\]\)$/],
    [
      '{"globalShortcut": "x"}',
      /^mcpServers: required, a mapping of servers \(the file has globalShortcut\)$/,
    ],
    ['{"mcpServers": []}', /^mcpServers: expected a mapping of servers \(got \[\]\)$/],
  ])('rejects %s', async (json, expected) => {
    const mcpConfigPath = file(json, 'json');
    const error = await rejection(loadConfig({ mcpConfigPath, env: {} }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.slice(mcpConfigPath.length + 2)).toMatch(expected);
  });

  it('a missing file is CONFIG_NOT_FOUND', async () => {
    const mcpConfigPath = join(dir, 'claude.json');
    const error = await rejection(loadConfig({ mcpConfigPath, env: {} }));
    expect(error).toMatchObject({
      code: 'CONFIG_NOT_FOUND',
      message: `MCP client config not found: ${mcpConfigPath}`,
    });
  });
});

describe('loadConfig: overrides and the result', () => {
  it('command-line overrides win over the file', async () => {
    const config = await load('server:\n  port: 4100\n  host: 0.0.0.0\nstorage:\n  dataDir: /a\n', {
      overrides: { port: 0, host: '127.0.0.2', dataDir: '/b' },
    });
    expect(config.server).toMatchObject({ port: 0, host: '127.0.0.2' });
    expect(config.storage.dataDir).toBe('/b');
  });

  it('without overrides the file stands', async () => {
    const config = await load('server:\n  port: 4100\n', { overrides: {} });
    expect(config.server.port).toBe(4100);
  });

  it('is deeply frozen', async () => {
    const config = await load('mcpServers:\n  a:\n    command: x\n    args: [y]\n');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.gateway.restart)).toBe(true);
    expect(Object.isFrozen(config.server.allowedHosts)).toBe(true);
    const a = config.mcpServers.a;
    expect(a?.transport === 'stdio' && Object.isFrozen(a.args)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('two loads share no objects', async () => {
    const [a, b] = await Promise.all([load(''), load('')]);
    expect(a.gateway).toEqual(b.gateway);
    expect(a.gateway).not.toBe(b.gateway);
    expect(a.gateway.restart).not.toBe(b.gateway.restart);
  });
});

describe('examples/ziggie.yaml', () => {
  it('loads with the defaults of its variables', async () => {
    const config = await loadConfig({ path: 'examples/ziggie.yaml', env: {} });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 4000 });
    expect(config.storage.dataDir).toBe('.ziggie');
    expect(config.mcpServers.everything).toMatchObject({ transport: 'stdio', command: 'node' });
    expect(Object.keys(config.workspaces)).toEqual([
      'ziggie',
      'fitflow',
      'ai-game-dev',
      'simstudio',
      'meowping-nft',
    ]);
    expect(config.workspaces.fitflow).toMatchObject({ status: 'planning', portRange: [3100, 3199] });
  });

  it('takes its port, host, data dir and log level from the environment', async () => {
    const env = {
      ZIGGIE_PORT: '4100',
      ZIGGIE_HOST: '0.0.0.0',
      ZIGGIE_DATA_DIR: '/data',
      ZIGGIE_LOG_LEVEL: 'warn',
    };
    const config = await loadConfig({ path: 'examples/ziggie.yaml', env });
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 4100 });
    expect(config.storage.dataDir).toBe('/data');
    expect(config.logging.level).toBe('warn');
  });
});

describe('workspaces', () => {
  it('reads declarations with only the keys given (ranges as lists or "start-end")', async () => {
    const config = await load(
      'workspaces:\n  ziggie: { path: C:/Ziggie, portRange: [3000, 3099], priority: P0 }\n  fitflow: { path: /f, portRange: 3100-3199 }\n',
    );
    expect(config.workspaces).toEqual({
      ziggie: { path: 'C:/Ziggie', portRange: [3000, 3099], priority: 'P0' },
      fitflow: { path: '/f', portRange: [3100, 3199] },
    });
    expect((await load('')).workspaces).toEqual({});
    expect((await load('workspaces:\n')).workspaces).toEqual({});
  });

  it.each([
    [
      'workspaces:\n  ziggie: { path: /z, portRange: [3000, 3099] }\n  fitflow: { path: /f, portRange: [3050, 3150] }\n',
      'workspaces.fitflow.portRange: 3050-3150 overlaps workspaces.ziggie.portRange (3000-3099) (got [3050,3150])',
    ],
    [
      'workspaces:\n  Fit Flow: { path: /f }\n',
      'workspaces["Fit Flow"]: a workspace name is 1-63 lowercase letters, digits, "-" and "_", starting with a letter or digit (got {"path":"/f"})',
    ],
    ['workspaces:\n  w: { portRange: [1, 2] }\n', 'workspaces.w.path: required'],
    [
      'workspaces:\n  w: { path: /w, portRange: [9, 1] }\n',
      'workspaces.w.portRange: the start of the range must not be above its end (got [9,1])',
    ],
    [
      'workspaces:\n  w: { path: /w, status: paused }\n',
      'workspaces.w.status: expected one of active, planning, discovery, suspended, archived (got "paused")',
    ],
    [
      'workspaces:\n  w: { path: /w, ports: [1, 2] }\n',
      'workspaces.w.ports: unknown key (allowed: path, status, priority, health, metadata, portRange, mcpServers)',
    ],
  ])('%j', async (yaml, expected) => {
    expect(await problem(yaml)).toBe(expected);
  });
});
