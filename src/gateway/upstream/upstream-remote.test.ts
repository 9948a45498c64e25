import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ZiggieError } from '../../core/errors.ts';
import type { RemoteUpstreamSpec } from '../../core/upstream-spec.ts';
import {
  EVERYTHING,
  FAST_TIMINGS,
  freePort,
  recordingHooks,
  silentLogger,
  spawnUntil,
  waitFor,
} from './test-helpers.ts';
import { stopAll, UpstreamConnection } from './upstream-connection.ts';

const WS_FIXTURE = fileURLToPath(new URL('../../../test/fixtures/ws-echo-server.ts', import.meta.url));

const children: ChildProcess[] = [];
const started: UpstreamConnection[] = [];
afterEach(async () => {
  await stopAll(started.splice(0));
});
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

function remote(
  transport: RemoteUpstreamSpec['transport'],
  url: string,
  extra: Partial<RemoteUpstreamSpec> = {},
) {
  const spec: RemoteUpstreamSpec = {
    name: `remote-${transport}`,
    enabled: true,
    connect: 'eager',
    protocol: 'auto',
    transport,
    url,
    headers: { 'x-ziggie-test': 'yes' },
    ...extra,
  };
  // Declines whatever the upstream asks for.
  const hooks = recordingHooks(() => ({ action: 'decline' }));
  const upstream = new UpstreamConnection(spec, FAST_TIMINGS, hooks, silentLogger);
  started.push(upstream);
  return { upstream, hooks };
}

async function everythingOver(mode: 'streamableHttp' | 'sse'): Promise<number> {
  const port = await freePort();
  const { child } = await spawnUntil([EVERYTHING, mode], /port (\d+)/, { PORT: String(port) });
  children.push(child);
  return port;
}

describe('UpstreamConnection over HTTP transports (server-everything)', () => {
  let httpPort = 0;
  let ssePort = 0;
  beforeAll(async () => {
    [httpPort, ssePort] = await Promise.all([everythingOver('streamableHttp'), everythingOver('sse')]);
  });

  it('Streamable HTTP: connects, lists and calls', async () => {
    const { upstream } = remote('http', `http://127.0.0.1:${httpPort}/mcp`);
    await upstream.start();
    expect(upstream.status()).toMatchObject({ state: 'healthy', era: '2025' });
    expect(upstream.status().serverInfo?.name).toBe('mcp-servers/everything');
    const { tools } = await upstream.call((client, signal) => client.listTools(undefined, { signal }));
    expect(tools.map((t) => t.name)).toContain('get-sum');
    const sum = await upstream.call((client) =>
      client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } }),
    );
    expect((sum.content[0] as { text: string }).text).toContain('42');
  });

  it('SSE: connects, lists and calls', async () => {
    const { upstream } = remote('sse', `http://127.0.0.1:${ssePort}/sse`);
    await upstream.start();
    expect(upstream.status()).toMatchObject({ state: 'healthy', era: '2025' });
    const { tools } = await upstream.call((client) => client.listTools());
    expect(tools.map((t) => t.name)).toContain('echo');
    const echoed = await upstream.call((client) =>
      client.callTool({ name: 'echo', arguments: { message: 'sse' } }),
    );
    expect(echoed.content).toEqual([{ type: 'text', text: 'Echo: sse' }]);
  });

  it('an unreachable URL fails start() with the reason and leaves the server restarting', async () => {
    const port = await freePort();
    const { upstream } = remote('http', `http://127.0.0.1:${port}/mcp`);
    const error = (await upstream.start().catch((e: unknown) => e)) as ZiggieError;
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toMatch(/^upstream "remote-http" is unhealthy: /);
    await waitFor(() => upstream.status().state === 'restarting', 2000, 'restarting');
  });
});

describe('UpstreamConnection over WebSocket (SDK v2 fixture)', () => {
  it('negotiates the 2026 era, lists and calls, and health-checks with server/discover', async () => {
    const { child, match } = await spawnUntil([WS_FIXTURE, '--port', '0'], /listening (\d+)/);
    children.push(child);
    const hooks = recordingHooks(() => ({ action: 'accept', content: { yes: true } }));
    const spec: RemoteUpstreamSpec = {
      name: 'ws-echo',
      enabled: true,
      connect: 'eager',
      protocol: 'auto',
      transport: 'ws',
      url: `ws://127.0.0.1:${match}`,
      headers: {},
    };
    const upstream = new UpstreamConnection(
      spec,
      { ...FAST_TIMINGS, healthIntervalMs: 100 },
      hooks,
      silentLogger,
    );
    started.push(upstream);
    await upstream.start();
    expect(upstream.status()).toMatchObject({ state: 'healthy', era: '2026', protocolVersion: '2026-07-28' });
    expect(upstream.status().serverInfo).toEqual({ name: 'ws-echo', version: '1.0.0' });

    const { tools } = await upstream.call((client) => client.listTools());
    expect(tools.map((t) => t.name)).toEqual(['echo', 'add-tool', 'confirm']);
    const echoed = await upstream.call((client) =>
      client.callTool({ name: 'echo', arguments: { message: 'over ws' } }),
    );
    expect(echoed.content).toEqual([{ type: 'text', text: 'echo: over ws' }]);

    // A 2026 server streams list_changed only to a subscriptions/listen request, which the connection opened.
    await upstream.call((client) => client.callTool({ name: 'add-tool', arguments: { name: 'late' } }));
    await waitFor(
      () => hooks.notifications.some((n) => n.method === 'notifications/tools/list_changed'),
      2000,
      'tools/list_changed',
    );
    expect(hooks.notifications[0]?.server).toBe('ws-echo');

    // A 2026 server asks for input with an input_required result; it reaches the same hook.
    const confirmed = await upstream.call((client) =>
      client.callTool({ name: 'confirm', arguments: { question: 'Ship it?' } }),
    );
    expect(confirmed.content).toEqual([{ type: 'text', text: 'accept {"yes":true}' }]);
    expect(hooks.requests).toMatchObject([
      { server: 'ws-echo', method: 'elicitation/create', params: { message: 'Ship it?' } },
    ]);

    await waitFor(() => upstream.status().lastPingMs !== undefined, 2000, 'a health check');
    expect(upstream.status().state).toBe('healthy');

    // The server going away closes the socket: noticed at once, not at the next health check.
    child.kill('SIGKILL');
    await waitFor(() => upstream.status().state !== 'healthy', 1000, 'the close to be noticed');
    expect(upstream.status().reason).toBe('the connection closed');
  });

  it('a 2025 pin speaks the 2025 era over the same server', async () => {
    const { startWsEchoServer } = await import('../../../test/fixtures/ws-echo-server.ts');
    const server = await startWsEchoServer();
    try {
      const { upstream, hooks } = remote('ws', server.url, { protocol: '2025-11-25' });
      await upstream.start();
      expect(upstream.status()).toMatchObject({ era: '2025', protocolVersion: '2025-11-25' });
      const echoed = await upstream.call((client) =>
        client.callTool({ name: 'echo', arguments: { message: 'old' } }),
      );
      expect(echoed.content).toEqual([{ type: 'text', text: 'echo: old' }]);
      // On 2025 the same tool sends an elicitation/create request instead.
      const refused = await upstream.call((client) =>
        client.callTool({ name: 'confirm', arguments: { question: 'Really?' } }),
      );
      expect(refused.content).toEqual([{ type: 'text', text: 'decline {}' }]);
      expect(hooks.requests).toMatchObject([
        { method: 'elicitation/create', params: { message: 'Really?' } },
      ]);
      expect(server.upgradeHeaders[0]?.['x-ziggie-test']).toBe('yes');
      expect(server.upgradeHeaders[0]?.['sec-websocket-protocol']).toBe('mcp');
    } finally {
      await stopAll(started.splice(0));
      await server.close();
    }
  });
});
