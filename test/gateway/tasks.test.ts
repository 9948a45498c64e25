import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resultFromTaskOutcome, type SerializedTaskReference } from '@modelcontextprotocol/ext-tasks/client';
import { taskId as asTaskId } from '@modelcontextprotocol/ext-tasks/core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import { Ziggie } from '../../src/ziggie.ts';
import { connectClient } from '../helpers/mcp-client.ts';
import { connectModernClient } from '../helpers/modern-client.ts';
import { connectTaskClient, settle, type TaskClient } from '../helpers/task-client.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/** Who owns the tasks of a credential-less loopback client (local mode: the bootstrap admin). */
const ownerOn = (ziggie: Ziggie): string => `user:${ziggie.auth.localIdentity?.actor.id}`;

const FIXTURE = join(process.cwd(), 'test/fixtures/modern-server.ts');
const TASKS = 'io.modelcontextprotocol/tasks';
/** Task references are scoped to an endpoint identity the host chooses; one per gateway here. */
const ENDPOINT = 'ziggie-tasks-test';

type CallResult = { content?: Array<{ type: string; text?: string }>; isError?: boolean };

const textOf = (result: unknown) => JSON.stringify((result as CallResult).content);

const cancelLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').length : 0);

describe('MCP tasks for 2026-07-28 clients', () => {
  let harness: Harness;
  let c: TaskClient;
  const cancelLog = join(tmpdir(), `ziggie-task-cancel-${process.pid}-${Date.now()}.log`);

  beforeAll(async () => {
    const env = { CANCEL_LOG: cancelLog };
    harness = await startZiggie({
      gateway: { tasks: { afterMs: 0, pollIntervalMs: 40 } },
      mcpServers: {
        new: { command: process.execPath, args: [FIXTURE], env },
        old: { command: process.execPath, args: [FIXTURE, '--legacy'], env, protocol: '2025-11-25' },
        everything: everythingStdio(),
      },
    });
    const view = harness.ziggie.gateway.aggregateView();
    await waitFor(
      () => ['new__count', 'old__count', 'everything__echo'].every((t) => view.resolveTool(t) !== undefined),
      20_000,
      'the upstream tools listed',
    );
    c = await connectTaskClient(`${harness.baseUrl}/mcp`, ENDPOINT);
  });

  afterAll(async () => {
    await c?.close();
    await harness?.stop();
    rmSync(cancelLog, { force: true });
  });

  it('advertises the Tasks extension to stateless clients, not to 2025 sessions', async () => {
    expect(c.client.getServerCapabilities()?.extensions).toEqual({ [TASKS]: {} });
    expect(c.session.capabilities).toMatchObject({
      execution: true,
      cancellation: true,
      inputResponses: true,
    });
    const legacy = await connectClient(`${harness.baseUrl}/mcp`);
    try {
      expect(legacy.client.getServerCapabilities()?.extensions).toBeUndefined();
    } finally {
      await legacy.close();
    }
  });

  it('runs a call as a task: created, polled while working, completed with the result', async () => {
    const execution = await c.session.callTool('new__count', { n: 5, ms: 40 });
    expect(execution.kind).toBe('task');
    if (execution.kind !== 'task') return;
    const { statuses, result } = await settle(execution);
    expect(textOf(result)).toContain('counted to 5');
    expect(statuses[0]).toBe('working');
    expect(statuses.at(-1)).toBe('completed');
    // Stored, with its result, for its owner.
    const stored = await harness.ziggie.store.mcpTasks.get(execution.handle.taskId, ownerOn(harness.ziggie));
    expect(stored).toMatchObject({ status: 'completed', tool: 'new__count' });
    expect(JSON.stringify(stored?.result)).toContain('counted to 5');
  });

  it('reports progress in the status message of a working task', async () => {
    const execution = await c.session.callTool('new__count', { n: 8, ms: 60 });
    if (execution.kind !== 'task') throw new Error('expected a task');
    const task = c.session.task(execution.handle.taskId);
    await waitFor(async () => /^progress \d+\/8$/.test((await task.snapshot()).statusMessage ?? ''), 5_000);
    expect(textOf((await settle(execution)).result)).toContain('counted to 8');
  });

  describe.each([
    { upstream: 'new', era: '2026-07-28' },
    { upstream: 'old', era: '2025-11-25' },
  ])('input through a task ($era upstream)', ({ upstream }) => {
    it('moves to input_required, takes the answers with tasks/update, and completes', async () => {
      c.inputs.length = 0;
      const execution = await c.session.callTool(`${upstream}__two-step`, {});
      expect(execution.kind).toBe('task');
      if (execution.kind !== 'task') return;
      const { statuses, result } = await settle(execution);
      expect(textOf(result)).toContain('hello Ada (true)');
      expect(c.inputs).toEqual(['elicitation', 'elicitation']);
      expect(statuses.filter((s) => s === 'input_required').length).toBeGreaterThanOrEqual(1);
      expect(statuses.at(-1)).toBe('completed');
    });

    it('carries a sampling request through the task', async () => {
      c.inputs.length = 0;
      const execution = await c.session.callTool(`${upstream}__summarize`, { text: 'a long text' });
      if (execution.kind !== 'task') throw new Error('expected a task');
      expect(textOf((await settle(execution)).result)).toContain('sampled in a task');
      expect(c.inputs).toEqual(['sampling']);
    });
  });

  it('runs server-everything calls as tasks (a long operation; an elicitation)', async () => {
    const long = await c.session.callTool('everything__trigger-long-running-operation', {
      duration: 0.4,
      steps: 4,
    });
    if (long.kind !== 'task') throw new Error('expected a task');
    expect(textOf((await settle(long)).result)).toContain('Long running operation completed');

    c.inputs.length = 0;
    const ask = await c.session.callTool('everything__trigger-elicitation-request', {});
    if (ask.kind !== 'task') throw new Error('expected a task');
    expect(textOf((await settle(ask)).result)).toContain('Ada');
    expect(c.inputs).toEqual(['elicitation']);
  });

  it('cancels a task, and the upstream sees the cancel', async () => {
    const before = cancelLines(cancelLog);
    const execution = await c.session.callTool('new__count', { n: 200, ms: 30 });
    if (execution.kind !== 'task') throw new Error('expected a task');
    const task = c.session.task(execution.handle.taskId);
    await waitFor(async () => (await task.snapshot()).statusMessage?.startsWith('progress') === true, 5_000);
    await execution.cancel();
    await waitFor(() => cancelLines(cancelLog) > before, 5_000, 'the upstream seeing the cancel');
    expect(await task.snapshot()).toMatchObject({
      status: 'cancelled',
      statusMessage: 'cancelled by the client',
    });
    expect((await execution.result()).status).toBe('cancelled');
    await waitFor(() => harness.ziggie.gateway.tasks?.size === 0, 2_000, 'the task forgotten in memory');
  });

  it('keeps the result for a client that went away and comes back', async () => {
    const before = cancelLines(cancelLog);
    const first = await connectTaskClient(`${harness.baseUrl}/mcp`, ENDPOINT);
    const execution = await first.session.callTool('new__count', { n: 10, ms: 50 });
    if (execution.kind !== 'task') throw new Error('expected a task');
    let reference: SerializedTaskReference | undefined;
    await execution.handoff((ref) => {
      reference = ref;
    });
    await first.close();

    // Meanwhile the task runs to its end with nobody polling.
    const id = execution.handle.taskId;
    await waitFor(
      async () =>
        (await harness.ziggie.store.mcpTasks.get(id, ownerOn(harness.ziggie)))?.status === 'completed',
      5_000,
      'the task completing while the client is away',
    );

    const second = await connectTaskClient(`${harness.baseUrl}/mcp`, ENDPOINT);
    try {
      const resumed = await second.session.resumeTask(reference as SerializedTaskReference);
      expect(textOf((await settle(resumed)).result)).toContain('counted to 10');
    } finally {
      await second.close();
    }
    expect(cancelLines(cancelLog)).toBe(before);
  });

  describe('bad input', () => {
    it('refuses an unknown task id with -32602', async () => {
      await expect(c.session.task(asTaskId('no-such-task')).snapshot()).rejects.toMatchObject({
        code: -32602,
        message: expect.stringContaining('task no-such-task not found'),
      });
      await expect(c.session.task(asTaskId('no-such-task')).cancel()).rejects.toMatchObject({ code: -32602 });
    });

    it("does not show another owner's task", async () => {
      const execution = await c.session.callTool('new__count', { n: 1, ms: 1 });
      if (execution.kind !== 'task') throw new Error('expected a task');
      await settle(execution);
      const tasks = harness.ziggie.gateway.tasks;
      const id = execution.handle.taskId;
      expect((await tasks?.get(id, ownerOn(harness.ziggie)))?.status).toBe('completed');
      // The scoping is the service's: another identity does not see it.
      for (const attempt of [
        tasks?.get(id, 'someone-else'),
        tasks?.cancel(id, 'someone-else'),
        tasks?.update(id, 'someone-else', {}),
      ]) {
        await expect(attempt).rejects.toMatchObject({
          code: 'NOT_FOUND',
          message: expect.stringContaining(id),
        });
      }
    });

    it('refuses tasks/update on a task that is not waiting for input', async () => {
      const execution = await c.session.callTool('new__count', { n: 1, ms: 1 });
      if (execution.kind !== 'task') throw new Error('expected a task');
      await settle(execution);
      const update = c.session.task(execution.handle.taskId).update({ x: { action: 'accept', content: {} } });
      await expect(update).rejects.toMatchObject({
        code: -32602,
        message: expect.stringMatching(/is completed, not waiting for input/),
      });
    });
  });

  it('answers a 2026 client that did not declare the extension without a task', async () => {
    const plain = await connectModernClient(`${harness.baseUrl}/mcp`);
    try {
      const result = await plain.client.callTool({ name: 'new__count', arguments: { n: 2, ms: 10 } });
      expect(textOf(result)).toContain('counted to 2');
      expect((result as Record<string, unknown>).taskId).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

describe('when a call becomes a task', () => {
  it('answers quick calls directly and makes a task of slow ones (gateway.tasks.afterMs)', async () => {
    const harness = await startZiggie({
      gateway: { tasks: { afterMs: 300, pollIntervalMs: 40 } },
      mcpServers: { new: { command: process.execPath, args: [FIXTURE] } },
    });
    const c = await connectTaskClient(`${harness.baseUrl}/mcp`, ENDPOINT).catch(async (error) => {
      await harness.stop();
      throw error;
    });
    try {
      const quick = await c.session.callTool('new__echo', { message: 'fast' });
      expect(quick.kind).toBe('immediate');
      expect(textOf(resultFromTaskOutcome(await quick.result()))).toContain('echo: fast');

      const slow = await c.session.callTool('new__count', { n: 10, ms: 60 });
      expect(slow.kind).toBe('task');
      expect(textOf((await settle(slow)).result)).toContain('counted to 10');

      // Input asked within the window: the task is created waiting for it.
      c.inputs.length = 0;
      const asking = await c.session.callTool('new__confirm', {});
      expect(asking.kind).toBe('task');
      expect(textOf((await settle(asking)).result)).toContain('confirmed: true');
      expect(c.inputs).toEqual(['elicitation']);
    } finally {
      await c.close();
      await harness.stop();
    }
  });

  it('cancels a task that outlives its time to live upstream, then reports it expired', async () => {
    const cancelLog = join(tmpdir(), `ziggie-task-ttl-${process.pid}-${Date.now()}.log`);
    const harness = await startZiggie({
      gateway: { tasks: { afterMs: 0, pollIntervalMs: 40, ttlMs: 600 } },
      mcpServers: { new: { command: process.execPath, args: [FIXTURE], env: { CANCEL_LOG: cancelLog } } },
    });
    try {
      await waitFor(() => harness.ziggie.gateway.aggregateView().resolveTool('new__count') !== undefined);
      const c = await connectTaskClient(`${harness.baseUrl}/mcp`, ENDPOINT);
      try {
        const execution = await c.session.callTool('new__count', { n: 200, ms: 30 });
        if (execution.kind !== 'task') throw new Error('expected a task');
        expect((await c.session.task(execution.handle.taskId).snapshot()).retentionMs).toBe(600);
        await waitFor(() => cancelLines(cancelLog) > 0, 5_000, 'the upstream seeing the cancel');
        await expect(c.session.task(execution.handle.taskId).snapshot()).rejects.toMatchObject({
          code: -32602,
          message: expect.stringContaining('has expired'),
        });
        await execution.detach();
      } finally {
        await c.close();
      }
    } finally {
      await harness.stop();
      rmSync(cancelLog, { force: true });
    }
  });

  it('neither offers nor makes tasks when gateway.tasks.enabled is false', async () => {
    const harness = await startZiggie({
      gateway: { tasks: { enabled: false, afterMs: 0 } },
      mcpServers: { new: { command: process.execPath, args: [FIXTURE] } },
    });
    try {
      await waitFor(() => harness.ziggie.gateway.aggregateView().resolveTool('new__count') !== undefined);
      const plain = await connectModernClient(`${harness.baseUrl}/mcp`);
      try {
        expect(plain.client.getServerCapabilities()?.extensions).toBeUndefined();
      } finally {
        await plain.close();
      }
      // A client that declares the extension anyway gets a plain result.
      const c = await connectTaskClient(`${harness.baseUrl}/mcp`, ENDPOINT);
      try {
        expect(c.session.capabilities.execution).toBe(false);
        const call = await c.session.callTool('new__count', { n: 2, ms: 10 });
        expect(call.kind).toBe('immediate');
        expect(textOf(resultFromTaskOutcome(await call.result()))).toContain('counted to 2');
      } finally {
        await c.close();
      }
    } finally {
      await harness.stop();
    }
  });
});

/**
 * A Ziggie config on a data directory of the test's choosing, so another Ziggie can start on the
 * same database. A short lease: a killed runner's tasks are failed within half a second.
 */
const LEASE_MS = 450;
function writeConfig(dir: string): string {
  const path = join(dir, 'ziggie.yaml');
  writeFileSync(
    path,
    stringify({
      gateway: { tasks: { afterMs: 0, pollIntervalMs: 40, leaseMs: LEASE_MS } },
      server: { port: 0 },
      storage: { dataDir: dir },
      mcpServers: { new: { command: process.execPath, args: [FIXTURE] } },
    }),
  );
  return path;
}

async function startInProcess(configPath: string): Promise<{ ziggie: Ziggie; url: string }> {
  const config = await loadConfig({ path: configPath, env: process.env });
  const ziggie = await Ziggie.start(config, { logger: pino({ level: 'silent' }) });
  const url = `${await ziggie.listen()}/mcp`;
  await waitFor(() => ziggie.gateway.aggregateView().resolveTool('new__count') !== undefined, 10_000);
  return { ziggie, url };
}

/** Starts a long task on `url` and returns its id once the gateway reports it working. */
async function startLongTask(url: string): Promise<string> {
  const c = await connectTaskClient(url, ENDPOINT);
  try {
    const execution = await c.session.callTool('new__count', { n: 1_000, ms: 50 });
    if (execution.kind !== 'task') throw new Error('expected a task');
    await execution.handoff(() => {});
    return execution.handle.taskId;
  } finally {
    await c.close();
  }
}

describe('Ziggie stopping, crashing, and sharing its database', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ziggie-tasks-restart-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a task in flight when Ziggie stopped as failed', async () => {
    const configPath = writeConfig(mkdtempSync(join(dir, 'stop-')));
    const first = await startInProcess(configPath);
    const id = await startLongTask(first.url);
    expect((await first.ziggie.store.mcpTasks.get(id, ownerOn(first.ziggie)))?.status).toBe('working');
    await first.ziggie.stop();

    const second = await startInProcess(configPath);
    const c = await connectTaskClient(second.url, ENDPOINT);
    try {
      const task = await c.session.task(asTaskId(id)).snapshot();
      expect(task.status).toBe('failed');
      expect(task.statusMessage).toMatch(/Ziggie stopped while this task was in flight/);
      const outcome = await c.session.task(asTaskId(id)).result();
      expect(outcome.status).toBe('failed');
    } finally {
      await c.close();
      await second.ziggie.stop();
    }
  });

  it('reports a task in flight when Ziggie was killed as failed once it runs again', async () => {
    const crashDir = mkdtempSync(join(dir, 'crash-'));
    const configPath = writeConfig(crashDir);
    const child = await spawnZiggie(configPath);
    let id: string;
    try {
      id = await startLongTask(child.url);
    } finally {
      child.process.kill('SIGKILL');
      await new Promise((resolve) => child.process.once('exit', resolve));
    }

    const again = await startInProcess(configPath);
    const c = await connectTaskClient(again.url, ENDPOINT);
    try {
      // Failed as soon as the dead runner's lease has run out (at most LEASE_MS after the kill).
      const task = c.session.task(asTaskId(id));
      await waitFor(async () => (await task.snapshot()).status === 'failed', 5_000, 'the task failed');
      expect((await task.snapshot()).statusMessage).toMatch(
        /the Ziggie process running this task stopped without finishing it \(it crashed or was killed\)/,
      );
      const outcome = await c.session.task(asTaskId(id)).result();
      expect(outcome).toMatchObject({ status: 'failed', error: { code: -32603 } });
    } finally {
      await c.close();
      await again.ziggie.stop();
    }
  });
});

describe('two Ziggie processes on one database', () => {
  it("leave each other's running tasks alone, and say where a task runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ziggie-tasks-shared-'));
    const configPath = writeConfig(dir);
    const first = await startInProcess(configPath);
    let second: Awaited<ReturnType<typeof startInProcess>> | undefined;
    let c: TaskClient | undefined;
    try {
      const id = await startLongTask(first.url);
      // The second one starts (and sweeps) on the same SQLite file while the first runs the task.
      second = await startInProcess(configPath);
      c = await connectTaskClient(second.url, ENDPOINT);
      const seen = c.session.task(asTaskId(id));
      await new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS));
      expect((await seen.snapshot()).status).toBe('working');
      await expect(seen.cancel()).rejects.toMatchObject({
        code: -32602,
        message: expect.stringContaining('is run by another Ziggie process'),
      });
      // Its own runner can cancel it.
      await first.ziggie.gateway.tasks?.cancel(id, ownerOn(first.ziggie));
      expect((await seen.snapshot()).status).toBe('cancelled');
    } finally {
      await c?.close();
      await second?.ziggie.stop();
      await first.ziggie.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Runs Ziggie in a child process (so it can be killed without a clean stop); resolves with its /mcp URL. */
async function spawnZiggie(configPath: string): Promise<{ process: ChildProcess; url: string }> {
  const source = (file: string) => JSON.stringify(pathToFileURL(join(process.cwd(), file)).href);
  const script = [
    `import { pino } from 'pino';`,
    `import { loadConfig } from ${source('src/config/index.ts')};`,
    `import { Ziggie } from ${source('src/ziggie.ts')};`,
    'const config = await loadConfig({ path: process.env.ZIGGIE_CONFIG, env: process.env });',
    `const ziggie = await Ziggie.start(config, { logger: pino({ level: 'silent' }) });`,
    'const url = await ziggie.listen();',
    `const view = ziggie.gateway.aggregateView();`,
    `while (!view.resolveTool('new__count')) await new Promise((r) => setTimeout(r, 25));`,
    'console.log(url);',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: process.cwd(),
    env: { ...process.env, ZIGGIE_CONFIG: configPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('http'));
      if (line) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`ziggie exited early (${code})`)));
  });
  return { process: child, url: `${url}/mcp` };
}
