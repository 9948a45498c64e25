import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProtocolError } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { ZiggieError } from '../../core/errors.ts';
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
import type { UpstreamTimings } from './types.ts';
import { stopAll, UpstreamConnection } from './upstream-connection.ts';

const started: UpstreamConnection[] = [];
afterEach(async () => {
  await stopAll(started.splice(0));
});

function connect(timings: UpstreamTimings, overrides = {}) {
  const hooks = recordingHooks();
  const upstream = new UpstreamConnection(everythingStdio(overrides), timings, hooks, silentLogger);
  started.push(upstream);
  return { upstream, hooks };
}

function onlyChild(): number {
  const pids = descendantsRunning(EVERYTHING);
  expect(pids).toHaveLength(1);
  return pids[0]!;
}

const listTools = (upstream: UpstreamConnection) =>
  upstream.call((client, signal) => client.listTools(undefined, { signal }));

describe('UpstreamConnection health and restarts', () => {
  it('notices a killed child at once, fails calls during the outage, then restarts and serves again', async () => {
    // The wrapper counts spawns: `auto` negotiation probes a legacy server on a sibling process once.
    const dir = mkdtempSync(join(tmpdir(), 'ziggie-upstream-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const spawnLog = join(dir, 'spawns');
    const { upstream, hooks } = connect(
      { ...FAST_TIMINGS, restartInitialDelayMs: 800 },
      {
        command: '/bin/sh',
        args: ['-c', `echo spawn >> "${spawnLog}"; exec "${process.execPath}" "${EVERYTHING}" stdio`],
      },
    );
    await upstream.start();
    expect(readFileSync(spawnLog, 'utf8')).toBe('spawn\nspawn\n');
    const first = onlyChild();

    const killedAt = Date.now();
    process.kill(first, 'SIGKILL');
    await waitFor(() => upstream.status().state !== 'healthy', 1000, 'the crash to be noticed');
    expect(Date.now() - killedAt).toBeLessThan(1000);
    expect(upstream.status().reason).toBe('the connection closed');

    const during = Date.now();
    const error = (await listTools(upstream).catch((e: unknown) => e)) as ZiggieError;
    expect(Date.now() - during).toBeLessThan(100);
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toMatch(/^upstream "everything" is (unhealthy|restarting): the connection closed$/);
    expect(error.details).toMatchObject({ server: 'everything' });

    await waitFor(() => upstream.status().state === 'healthy', 5000, 'the restart');
    expect(upstream.status().restarts).toBe(1);
    const second = onlyChild();
    expect(second).not.toBe(first);
    expect((await listTools(upstream)).tools.length).toBeGreaterThan(0);
    const states = hooks.states.map((s) => s.state);
    expect(states).toEqual(['connecting', 'healthy', 'unhealthy', 'restarting', 'connecting', 'healthy']);
    // Known to be a 2025 server, it was restarted without a second probe.
    expect(readFileSync(spawnLog, 'utf8')).toBe('spawn\nspawn\nspawn\n');
  });

  it('a hung child fails its health check and is killed (SIGKILL after SIGTERM is ignored) and replaced', async () => {
    const timings = {
      ...FAST_TIMINGS,
      healthIntervalMs: 150,
      callTimeoutMs: 300,
      restartInitialDelayMs: 100,
    };
    const { upstream } = connect(timings);
    await upstream.start();
    await waitFor(() => upstream.status().lastPingMs !== undefined, 2000, 'a first ping');
    const hung = onlyChild();

    // A stopped process answers nothing and ignores SIGTERM until it is killed.
    process.kill(hung, 'SIGSTOP');
    await waitFor(() => upstream.status().state === 'unhealthy', 2000, 'the failed ping');
    expect(upstream.status().reason).toMatch(/^health check failed: /);
    await waitFor(() => upstream.status().state === 'healthy', 8000, 'the replacement');
    expect(isAlive(hung)).toBe(false);
    expect(upstream.status().restarts).toBe(1);
    expect((await listTools(upstream)).tools.length).toBeGreaterThan(0);
  });

  it('times out a slow call quickly, aborting its signal, and opens the breaker after repeated failures', async () => {
    const { upstream } = connect({ ...FAST_TIMINGS, breakerThreshold: 2 }, { timeoutMs: 300 });
    await upstream.start();
    const signals: AbortSignal[] = [];
    const slow = () =>
      upstream.call((client, signal) => {
        signals.push(signal);
        return client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 10, steps: 10 } },
          { signal },
        );
      });

    // Caller mistakes (a prompt that does not exist) pass through unchanged and do not count.
    for (let i = 0; i < 3; i++) {
      const refused = await upstream
        .call((client) => client.getPrompt({ name: 'no-such-prompt' }))
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ProtocolError);
      expect((refused as ProtocolError).code).toBe(-32602);
    }

    const begun = Date.now();
    const timedOut = (await slow().catch((e: unknown) => e)) as ZiggieError;
    expect(Date.now() - begun).toBeLessThan(1500);
    expect(timedOut.code).toBe('UPSTREAM_TIMEOUT');
    expect(timedOut.message).toBe('upstream "everything" did not answer within 300 ms');
    expect(signals[0]?.aborted).toBe(true);

    expect(((await slow().catch((e: unknown) => e)) as ZiggieError).code).toBe('UPSTREAM_TIMEOUT');
    const open = (await slow().catch((e: unknown) => e)) as ZiggieError;
    expect(open.code).toBe('UPSTREAM_CIRCUIT_OPEN');
    expect(open.message).toContain('upstream "everything"');
    // The open breaker answers without running the call.
    expect(signals).toHaveLength(2);
    // The connection itself is fine: only calls are paused.
    expect(upstream.status().state).toBe('healthy');
  });

  it("the caller's signal aborts the call and is not counted as an upstream failure", async () => {
    const { upstream } = connect({ ...FAST_TIMINGS, breakerThreshold: 1 });
    await upstream.start();
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('client went away')), 100);
      const error = await upstream
        .call(
          (client, signal) =>
            client.callTool(
              { name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } },
              { signal },
            ),
          { signal: controller.signal },
        )
        .catch((e: unknown) => e);
      expect((error as Error).message).toBe('client went away');
    }
    expect((await listTools(upstream)).tools.length).toBeGreaterThan(0);
  });

  it('children do not outlive the gateway process: the exit handler kills them', () => {
    const here = (file: string) => JSON.stringify(fileURLToPath(new URL(file, import.meta.url)));
    const script = `
      import { UpstreamConnection } from ${here('./upstream-connection.ts')};
      import * as h from ${here('./test-helpers.ts')};
      const upstream = new UpstreamConnection(h.everythingStdio(), h.FAST_TIMINGS, h.recordingHooks(), h.silentLogger);
      await upstream.start();
      console.log(JSON.stringify(h.descendantsRunning(h.EVERYTHING)));
      process.exit(0);
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    const pids = JSON.parse(output.trim()) as number[];
    expect(pids).toHaveLength(1);
    // Orphaned by the script's exit, the server would still be running (it was never stopped).
    expect(isAlive(pids[0]!)).toBe(false);
  });
});
