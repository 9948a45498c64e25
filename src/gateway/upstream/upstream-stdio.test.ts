import { afterEach, describe, expect, it } from 'vitest';
import { ZiggieError } from '../../core/errors.ts';
import { isAlive } from './process-tree.ts';
import {
  descendantsRunning,
  EVERYTHING,
  everythingStdio,
  FAST_TIMINGS,
  recordingHooks,
  silentLogger,
  waitFor,
} from './test-helpers.ts';
import type { Upstream } from './types.ts';
import { stopAll, UpstreamConnection } from './upstream-connection.ts';

const started: Upstream[] = [];
afterEach(async () => {
  await stopAll(started.splice(0));
});

function connection(...args: ConstructorParameters<typeof UpstreamConnection>): UpstreamConnection {
  const upstream = new UpstreamConnection(...args);
  started.push(upstream);
  return upstream;
}

describe('UpstreamConnection over stdio (server-everything)', () => {
  it('connects, reports status, lists and calls tools, and relays sampling, roots and notifications', async () => {
    const hooks = recordingHooks((request) =>
      request.method === 'roots/list'
        ? { roots: [{ uri: 'file:///work', name: 'work' }] }
        : {
            model: 'ziggie-test-model',
            role: 'assistant',
            content: { type: 'text', text: 'sampled by the gateway' },
          },
    );
    const upstream = connection(
      everythingStdio({ env: { ZIGGIE_MARKER: 'on' } }),
      FAST_TIMINGS,
      hooks,
      silentLogger,
    );
    expect(upstream.status().state).toBe('not_started');
    await upstream.start();

    const status = upstream.status();
    expect(status).toMatchObject({ name: 'everything', state: 'healthy', restarts: 0, era: '2025' });
    expect(status.serverInfo?.name).toBe('mcp-servers/everything');
    expect(status.protocolVersion).toMatch(/^2025-/);
    expect(status.connectedAt).toBeInstanceOf(Date);
    expect(hooks.states.map((s) => s.state)).toEqual(['connecting', 'healthy']);

    const { tools } = await upstream.call((client, signal) => client.listTools(undefined, { signal }));
    expect(tools.map((t) => t.name)).toContain('echo');

    const echoed = await upstream.call((client, signal) =>
      client.callTool({ name: 'echo', arguments: { message: 'hello upstream' } }, { signal }),
    );
    expect(echoed.content).toEqual([{ type: 'text', text: 'Echo: hello upstream' }]);

    // spec.env reaches the child on top of the default environment (PATH survives too).
    const env = await upstream.call((client) => client.callTool({ name: 'get-env', arguments: {} }));
    const envText = (env.content[0] as { text: string }).text;
    expect(envText).toContain('"ZIGGIE_MARKER": "on"');
    expect(envText).toContain('"PATH"');

    const sampled = await upstream.call((client) =>
      client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 20 } }),
    );
    const sampling = hooks.requests.find((r) => r.method === 'sampling/createMessage');
    expect(sampling?.server).toBe('everything');
    expect(JSON.stringify(sampling?.params)).toContain('say hi');
    expect((sampled.content[0] as { text: string }).text).toContain('sampled by the gateway');

    // The server asks for roots after initializing and then logs how many it got.
    await waitFor(
      () => hooks.notifications.some((n) => n.method === 'notifications/message'),
      3000,
      'a logging notification',
    );
    expect(hooks.requests.some((r) => r.method === 'roots/list')).toBe(true);
    const log = hooks.notifications.find((n) => n.method === 'notifications/message');
    expect(log?.params?.data).toBe('Roots updated: 1 root(s) received from client');
    // Registering its capability-dependent tools made the server announce a tools/list change.
    expect(hooks.notifications.some((n) => n.method === 'notifications/tools/list_changed')).toBe(true);
  });

  it('stop() ends the child process tree and later calls fail as stopped', async () => {
    // A shell wrapper keeps the server as a grandchild, like `npx` does.
    const spec = everythingStdio({
      name: 'wrapped',
      command: '/bin/sh',
      args: ['-c', `"${process.execPath}" "${EVERYTHING}" stdio; exit 0`],
    });
    const hooks = recordingHooks();
    const upstream = connection(spec, FAST_TIMINGS, hooks, silentLogger);
    await upstream.start();
    const tree = descendantsRunning(EVERYTHING);
    // The shell and the server under it.
    expect(tree).toHaveLength(2);

    await upstream.stop();
    expect(upstream.status().state).toBe('stopped');
    for (const pid of tree) expect(isAlive(pid)).toBe(false);
    await expect(upstream.call((client) => client.listTools())).rejects.toThrow(
      'upstream "wrapped" is stopped',
    );
  });

  it('a lazy server stays not_started until the first call, which starts it', async () => {
    const hooks = recordingHooks();
    const upstream = connection(everythingStdio({ connect: 'lazy' }), FAST_TIMINGS, hooks, silentLogger);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(upstream.status().state).toBe('not_started');
    expect(hooks.states).toEqual([]);

    // Two calls at once share the one connect.
    const [a, b] = await Promise.all([
      upstream.call((client) => client.listTools()),
      upstream.call((client) => client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })),
    ]);
    expect(a.tools.length).toBeGreaterThan(0);
    expect((b.content[0] as { text: string }).text).toContain('5');
    expect(upstream.status().state).toBe('healthy');
    expect(hooks.states.filter((s) => s.state === 'connecting')).toHaveLength(1);
  });

  it('a disabled server is never started', async () => {
    const upstream = connection(
      everythingStdio({ enabled: false }),
      FAST_TIMINGS,
      recordingHooks(),
      silentLogger,
    );
    const error = await upstream.call((client) => client.listTools()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZiggieError);
    expect((error as ZiggieError).code).toBe('UPSTREAM_UNAVAILABLE');
    expect((error as ZiggieError).message).toBe('upstream "everything" is not_started: disabled');
    expect(upstream.status().state).toBe('not_started');
  });

  it('a command that cannot start makes start() reject, marks the server unhealthy and schedules a restart', async () => {
    const hooks = recordingHooks();
    const spec = everythingStdio({ name: 'broken', command: '/nonexistent/mcp-server', args: [] });
    const upstream = connection(spec, FAST_TIMINGS, hooks, silentLogger);
    const error = (await upstream.start().catch((e: unknown) => e)) as ZiggieError;
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toMatch(/^upstream "broken" is unhealthy: .*ENOENT/);
    expect(error.details).toEqual({ server: 'broken', state: 'unhealthy' });
    await waitFor(() => upstream.status().state === 'restarting', 3000, 'restarting');
    expect(upstream.status().reason).toContain('ENOENT');
  });
});
