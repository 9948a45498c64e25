import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import {
  type AgentConnection,
  type ConnectAgentOptions,
  connectAgent,
  createClient,
  type TaskHandler,
  withUsage,
  type ZiggieApiError,
  type ZiggieClient,
} from '../../sdk/src/index.ts';
import type { TaskProgressEvent } from '../../src/bus/events.ts';
import { loadConfig } from '../../src/config/index.ts';
import { TEST_POSTGRES_URL } from '../../src/store/test-stores.ts';
import { Ziggie } from '../../src/ziggie.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * Issue 4, the `remote` executor: real Ziggie (HTTP on a loopback port), real WebSockets, the real
 * SDK. Agents connect with their API keys, receive tasks, report progress, logs and results, are
 * cancelled, fail and are retried, delegate and await subtasks, and die: a dead agent's task moves
 * to another agent with the same skill.
 */
const BOOTSTRAP = 'remote-agents-bootstrap-token-0123456789';
const LEASE_MS = 1000;

const CONFIG = {
  auth: { mode: 'required', rateLimits: { enabled: false } },
  mcpServers: { everything: everythingStdio() },
  orchestrator: {
    leaseMs: LEASE_MS,
    sweepIntervalMs: 100,
    retry: { initialDelayMs: 0, maxDelayMs: 0 },
  },
};

/** On PostgreSQL: the harness's start, in a schema of its own (dropped afterwards). */
async function startOnPostgres(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ziggie-test-'));
  const path = join(dir, 'ziggie.yaml');
  const schema = `ziggie_test_${randomBytes(6).toString('hex')}`;
  writeFileSync(
    path,
    stringify({ ...CONFIG, server: { port: 0 }, storage: { dataDir: dir, url: TEST_POSTGRES_URL } }),
  );
  const ziggie = await Ziggie.start(await loadConfig({ path, env: process.env }), {
    logger: pino({ level: process.env.ZIGGIE_TEST_LOG ?? 'silent' }),
    storageSchema: schema,
  });
  const baseUrl = await ziggie.listen();
  return {
    ziggie,
    baseUrl,
    dir,
    async stop() {
      await ziggie.stop();
      rmSync(dir, { recursive: true, force: true });
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  };
}

const DIALECTS = [
  ['sqlite', () => startZiggie(CONFIG)],
  ['postgres', startOnPostgres],
] as const;

describe.each(DIALECTS)('remote agents (%s)', (_dialect, start) => {
  let harness: Harness;
  let admin: ZiggieClient;
  const agents: AgentConnection[] = [];

  beforeAll(async () => {
    const previous = process.env.ZIGGIE_BOOTSTRAP_TOKEN;
    process.env.ZIGGIE_BOOTSTRAP_TOKEN = BOOTSTRAP;
    try {
      harness = await start();
    } finally {
      if (previous === undefined) delete process.env.ZIGGIE_BOOTSTRAP_TOKEN;
      else process.env.ZIGGIE_BOOTSTRAP_TOKEN = previous;
    }
    await harness.ziggie.app();
    admin = createClient({ url: harness.baseUrl, token: BOOTSTRAP });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await harness?.stop();
  });

  /** Registers an agent (remote executor unless told otherwise) and answers an API key for it. */
  async function register(id: string, fields: Record<string, unknown>): Promise<string> {
    const app = await harness.ziggie.app();
    const headers = { authorization: `Bearer ${BOOTSTRAP}` };
    const agent = await app.inject({
      method: 'POST',
      url: '/api/agents',
      headers,
      payload: { id, name: id, executor: { type: 'remote' }, ...fields },
    });
    expect(agent.statusCode, agent.body).toBe(201);
    const key = await app.inject({
      method: 'POST',
      url: '/api/keys',
      headers,
      payload: { name: id, agentId: id },
    });
    expect(key.statusCode, key.body).toBe(201);
    return key.json().key as string;
  }

  async function connect(
    token: string,
    handler: TaskHandler,
    more: Partial<ConnectAgentOptions> = {},
  ): Promise<AgentConnection> {
    const agent = connectAgent({ url: harness.baseUrl, token, handler, onError: () => {}, ...more });
    agents.push(agent);
    await agent.connected;
    return agent;
  }

  async function finished(client: ZiggieClient, id: string) {
    let last: Awaited<ReturnType<ZiggieClient['get']>> | undefined;
    for await (const task of client.watch(id)) last = task;
    if (!last) throw new Error(`no state of ${id}`);
    return last;
  }

  it('runs a task on a connected agent: output, usage, progress on the bus, lines in the log', async () => {
    const token = await register('echo-1', { tier: 'L3', skills: ['echo'], capacity: 2 });
    const progress: TaskProgressEvent[] = [];
    const off = harness.ziggie.bus.subscribe('task.progress', (event) => progress.push(event));
    const seen: unknown[] = [];
    await connect(token, async (task, ctx) => {
      seen.push(task);
      ctx.progress(1, 2, 'half way');
      ctx.log('echoing');
      ctx.log('to stderr', 'stderr');
      ctx.progress(2, 2);
      return withUsage({ echo: task.input }, { inputTokens: 3, outputTokens: 4, cost: 0.5 });
    });
    expect(harness.ziggie.agentHub.isConnected('echo-1')).toBe(true);

    const submitted = await admin.submit({ taskType: 'echo', input: { text: 'hi' }, skills: ['echo'] });
    expect(submitted).toMatchObject({ status: 'ASSIGNED', assignee: 'echo-1' });
    const done = await finished(admin, submitted.id);
    off();

    expect(done).toMatchObject({
      status: 'COMPLETED',
      output: { echo: { text: 'hi' } },
      attempts: 1,
      inputTokens: 3,
      outputTokens: 4,
      cost: 0.5,
    });
    expect(seen).toEqual([
      expect.objectContaining({ id: submitted.id, taskType: 'echo', input: { text: 'hi' }, attempt: 1 }),
    ]);
    expect(done.transitions.map((t) => t.to)).toEqual(['PENDING', 'ASSIGNED', 'IN_PROGRESS', 'COMPLETED']);
    expect(done.log.map((l) => [l.stream, l.text, l.attempt])).toEqual([
      ['info', 'echoing', 1],
      ['stderr', 'to stderr', 1],
    ]);
    expect(progress.filter((p) => p.taskId === submitted.id)).toEqual([
      expect.objectContaining({ progress: 1, total: 2, message: 'half way' }),
      expect.objectContaining({ progress: 2, total: 2 }),
    ]);
  });

  it('a task submitted to a connected agent with a free slot goes straight to it (one transaction)', async () => {
    const token = await register('direct-1', { tier: 'L3', capacity: 1 });
    let release: () => void = () => {};
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    await connect(token, async () => {
      await hold;
      return 'done';
    });
    const first = await admin.submit({ taskType: 'direct', agentId: 'direct-1' });
    // Created IN_PROGRESS under the connection's lease: assigned and started in the submit itself.
    expect(first).toMatchObject({ status: 'IN_PROGRESS', assignee: 'direct-1', attempts: 1 });
    const detail = await admin.get(first.id);
    expect(detail.transitions.map((t) => t.to)).toEqual(['PENDING', 'ASSIGNED', 'IN_PROGRESS']);
    expect(new Set(detail.transitions.map((t) => t.at)).size).toBe(1);
    // No free slot left: the next one is only assigned, and claimed once the first is done.
    const second = await admin.submit({ taskType: 'direct', agentId: 'direct-1' });
    expect(second).toMatchObject({ status: 'ASSIGNED', attempts: 0 });
    release();
    expect(await finished(admin, first.id)).toMatchObject({ status: 'COMPLETED', output: 'done' });
    expect(await finished(admin, second.id)).toMatchObject({ status: 'COMPLETED', attempts: 1 });
  });

  it('runs many tasks, several per message, never more at once than the concurrency', async () => {
    const token = await register('batch-1', { tier: 'L3', skills: ['batch'], capacity: 8 });
    let running = 0;
    let most = 0;
    await connect(
      token,
      async (task) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return (task.input as { n: number }).n * 2;
      },
      { concurrency: 3 },
    );
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        admin.submit({ taskType: 'double', input: { n }, agentId: 'batch-1' }).then((t) => t.id),
      ),
    );
    await waitFor(
      async () => (await admin.list({ assignee: 'batch-1', status: 'COMPLETED' })).items.length === 30,
      20_000,
      'all 30 tasks to complete',
    );
    const outputs = await Promise.all(ids.map(async (id) => (await admin.get(id)).output));
    expect(outputs).toEqual(Array.from({ length: 30 }, (_, n) => n * 2));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
  });

  it("cancelling a task aborts the handler's signal, and the agent takes the next task", async () => {
    const token = await register('cancel-1', { tier: 'L3', capacity: 1 });
    const reasons: string[] = [];
    let started = 0;
    await connect(token, (task, ctx) => {
      started++;
      if (task.taskType === 'quick') return 'quick done';
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          reasons.push(String((ctx.signal.reason as Error).message));
          reject(ctx.signal.reason);
        });
      });
    });
    const slow = await admin.submit({ taskType: 'forever', agentId: 'cancel-1' });
    await waitFor(
      async () => (await admin.get(slow.id)).status === 'IN_PROGRESS',
      10_000,
      'the task to start',
    );
    await waitFor(() => started === 1, 5000, 'the handler to run');
    const cancelled = await admin.cancel(slow.id, 'changed my mind');
    expect(cancelled.status).toBe('CANCELLED');
    await waitFor(() => reasons.length === 1, 5000, 'the abort');
    expect(reasons[0]).toMatch(/^cancelled: the task is CANCELLED: changed my mind$/);

    // Its only slot is free again.
    const quick = await admin.submit({ taskType: 'quick', agentId: 'cancel-1' });
    expect(await finished(admin, quick.id)).toMatchObject({ status: 'COMPLETED', output: 'quick done' });
    expect((await admin.get(slow.id)).status).toBe('CANCELLED');
  });

  it('a handler that throws fails the attempt; the task is retried and completes on the next attempt', async () => {
    const token = await register('flaky-1', { tier: 'L3', capacity: 1 });
    const attempts: number[] = [];
    await connect(token, (task) => {
      attempts.push(task.attempt);
      if (task.attempt === 1) throw new Error('flaked');
      return { ok: task.attempt };
    });
    const task = await admin.submit({ taskType: 'flaky', agentId: 'flaky-1', maxAttempts: 3 });
    const done = await finished(admin, task.id);
    expect(done).toMatchObject({ status: 'COMPLETED', output: { ok: 2 }, attempts: 2 });
    expect(attempts).toEqual([1, 2]);
    expect(done.transitions.map((t) => t.to)).toEqual([
      'PENDING',
      'ASSIGNED',
      'IN_PROGRESS',
      'FAILED',
      'ASSIGNED',
      'IN_PROGRESS',
      'COMPLETED',
    ]);
    expect(done.transitions.find((t) => t.to === 'FAILED')?.reason).toBe('flaked');
  });

  it('a TaskFailure that is not retryable fails the task for good', async () => {
    const token = await register('strict-1', { tier: 'L3', capacity: 1 });
    const { TaskFailure } = await import('../../sdk/src/index.ts');
    await connect(token, () => {
      throw new TaskFailure('bad input', { code: 'BAD_INPUT', retryable: false });
    });
    const task = await admin.submit({ taskType: 'strict', agentId: 'strict-1', maxAttempts: 3 });
    const done = await finished(admin, task.id);
    expect(done).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      error: { code: 'BAD_INPUT', message: 'bad input' },
    });
  });

  it('an output too big for one message fails the task for good, and the connection carries on', async () => {
    const token = await register('big-1', { tier: 'L3', capacity: 1 });
    await connect(token, (task) => (task.taskType === 'huge' ? 'x'.repeat(2 * 1024 * 1024) : 'small'));
    const huge = await admin.submit({ taskType: 'huge', agentId: 'big-1' });
    expect(await finished(admin, huge.id)).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      error: {
        code: 'OUTPUT_NOT_SENDABLE',
        message: expect.stringMatching(/^the result is \d+ bytes, more than/),
      },
    });
    const small = await admin.submit({ taskType: 'small', agentId: 'big-1' });
    expect(await finished(admin, small.id)).toMatchObject({ status: 'COMPLETED', output: 'small' });
  });

  it('an agent calls a gateway tool, delegates subtasks to an L3 agent and awaits them: the parent completes with their outputs', async () => {
    const leadToken = await register('lead-1', { tier: 'L2', skills: ['plan'], capacity: 1 });
    const microToken = await register('micro-1', { tier: 'L3', skills: ['part'], capacity: 4 });
    await connect(microToken, (task) => ({ part: (task.input as { part: number }).part, by: 'micro-1' }));
    const toolTexts: unknown[] = [];
    await connect(leadToken, async (task, ctx) => {
      const echoed = await ctx.callTool('everything__echo', { message: 'from the lead' });
      toolTexts.push(echoed.content[0]?.text);
      for (const part of [1, 2]) {
        const sub = await ctx.delegate({ taskType: 'part', input: { part }, agentId: 'micro-1' });
        expect(sub).toMatchObject({ parentId: task.id, assignee: 'micro-1', depth: 1 });
      }
      await ctx.awaitSubtasks();
      return 'ignored: the subtasks decide';
    });
    const parent = await admin.submit({ taskType: 'plan', agentId: 'lead-1' });
    const done = await finished(admin, parent.id);
    expect(toolTexts).toEqual([expect.stringContaining('from the lead')]);
    expect(done.status).toBe('COMPLETED');
    const output = done.output as { subtasks: Array<{ status: string; output: unknown }> };
    expect(output.subtasks.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(
      output.subtasks.map((s) => s.output).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual([
      { part: 1, by: 'micro-1' },
      { part: 2, by: 'micro-1' },
    ]);
  });

  it("a dead agent's task moves to another connected agent with the same skill and completes there", async () => {
    const deadToken = await register('dead-1', { tier: 'L3', skills: ['relay'], capacity: 1 });
    let taken!: () => void;
    const takenByDead = new Promise<void>((resolve) => {
      taken = resolve;
    });
    // No reconnect: the process is gone.
    const dead = await connect(
      deadToken,
      () => {
        taken();
        return new Promise(() => {});
      },
      { reconnect: false },
    );
    // By skill: only dead-1 has it yet; a retry goes to another agent with the skill.
    const task = await admin.submit({ taskType: 'relay', input: 'baton', skills: ['relay'] });
    expect(task.assignee).toBe('dead-1');
    await takenByDead;
    await dead.close();
    const heirToken = await register('heir-1', { tier: 'L3', skills: ['relay'], capacity: 1 });
    await connect(heirToken, (t) => ({ carried: t.input, by: 'heir-1', attempt: t.attempt }));

    // The sweeper (runner) fails the attempt once the lease runs out; nudge it in case it is slow.
    await waitFor(
      async () => {
        await harness.ziggie.tasks.leases.expireLeases();
        return (await admin.get(task.id)).status === 'COMPLETED';
      },
      LEASE_MS * 10,
      'the task to complete on the heir',
    );
    const done = await admin.get(task.id);
    expect(done).toMatchObject({
      status: 'COMPLETED',
      assignee: 'heir-1',
      output: { carried: 'baton', by: 'heir-1', attempt: 2 },
    });
    const failed = done.transitions.find((t) => t.to === 'FAILED');
    expect(failed?.reason).toBe('lease_expired');
  });

  it('heartbeats keep the lease of a task that runs longer than the lease', async () => {
    const token = await register('slow-1', { tier: 'L3', capacity: 1 });
    await connect(token, async () => {
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 2.5));
      return 'slow but alive';
    });
    const task = await admin.submit({ taskType: 'slow', agentId: 'slow-1' });
    await waitFor(async () => (await admin.get(task.id)).status === 'IN_PROGRESS', 10_000, 'the start');
    const expired: number[] = [];
    while ((await admin.get(task.id)).status === 'IN_PROGRESS') {
      expired.push(await harness.ziggie.tasks.leases.expireLeases());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(expired.length).toBeGreaterThan(10);
    expect(await admin.get(task.id)).toMatchObject({
      status: 'COMPLETED',
      output: 'slow but alive',
      attempts: 1,
    });
  });

  it('an agent that reconnects keeps the task it was working on', async () => {
    const token = await register('blip-1', { tier: 'L3', capacity: 1 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const agent = await connect(
      token,
      async () => {
        calls++;
        await gate;
        return 'survived';
      },
      { backoff: { initialMs: 10, maxMs: 20 } },
    );
    const task = await admin.submit({ taskType: 'blip', agentId: 'blip-1' });
    await waitFor(() => calls === 1, 10_000, 'the handler to start');
    const first = agent.hello?.connectionId;
    // The server drops every agent socket (a network blip); the SDK reconnects.
    for (const socket of (await harness.ziggie.app()).websocketServer.clients) socket.terminate();
    await waitFor(
      () => agent.hello !== undefined && agent.hello.connectionId !== first,
      10_000,
      'the reconnect',
    );
    release();
    const done = await finished(admin, task.id);
    expect(done).toMatchObject({ status: 'COMPLETED', output: 'survived', attempts: 1 });
    expect(calls).toBe(1);
  });

  it('refuses identities that are not agents, and agents bound to another executor, before the upgrade', async () => {
    const refusedAdmin = connectAgent({
      url: harness.baseUrl,
      token: BOOTSTRAP,
      handler: () => null,
      onError: () => {},
    });
    await expect(refusedAdmin.connected).rejects.toMatchObject({
      status: 403,
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('/api/agents/connect is for agents'),
    } satisfies Partial<ZiggieApiError>);

    const localToken = await register('local-1', {
      tier: 'L3',
      executor: { type: 'http', url: 'http://127.0.0.1:9/run' },
    });
    const refusedLocal = connectAgent({
      url: harness.baseUrl,
      token: localToken,
      handler: () => null,
      onError: () => {},
    });
    await expect(refusedLocal.connected).rejects.toMatchObject({
      status: 400,
      code: 'EXECUTOR_BINDING_INVALID',
    } satisfies Partial<ZiggieApiError>);

    const noKey = connectAgent({
      url: harness.baseUrl,
      token: 'zgk_not_a_key',
      handler: () => null,
      onError: () => {},
    });
    await expect(noKey.connected).rejects.toMatchObject({ status: 401 });

    // A plain GET is not a connection.
    const plain = await fetch(`${harness.baseUrl}/api/agents/connect`, {
      headers: { authorization: `Bearer ${localToken}` },
    });
    expect(plain.status).toBe(400);
    expect((await plain.json()).error.message).toMatch(/WebSocket endpoint/);
  });

  it('answers a malformed message with an error naming what was wrong, and stays open', async () => {
    const token = await register('raw-1', { tier: 'L3', capacity: 1 });
    const socket = new WebSocket(`${harness.baseUrl.replace('http', 'ws')}/api/agents/connect`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const inbox: Array<Record<string, unknown>> = [];
    socket.on('message', (data) => inbox.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const next = async (count: number) => {
      await waitFor(() => inbox.length >= count, 5000, `message ${count}`);
      return inbox[count - 1];
    };
    expect(await next(1)).toMatchObject({
      type: 'hello',
      agentId: 'raw-1',
      protocol: 1,
      heartbeatMs: Math.floor(LEASE_MS / 3),
      leaseMs: LEASE_MS,
      maxMessageBytes: 1024 * 1024,
    });

    socket.send('{not json');
    expect(await next(2)).toMatchObject({
      type: 'error',
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/^not JSON/),
    });

    socket.send(JSON.stringify({ type: 'heartbeat' }));
    expect(await next(3)).toMatchObject({ type: 'error', message: 'send "ready" before "heartbeat"' });

    socket.send(JSON.stringify({ type: 'ready', concurrency: 0 }));
    expect(await next(4)).toMatchObject({
      type: 'error',
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/^concurrency: /),
      about: 'ready',
    });

    socket.send(JSON.stringify({ type: 'ready' }));
    socket.send(
      JSON.stringify({
        type: 'batch',
        messages: [{ type: 'heartbeat' }, { type: 'progress', taskId: 'tsk_x' }, { type: 'teleport' }],
      }),
    );
    expect(await next(5)).toMatchObject({
      type: 'error',
      message: expect.stringMatching(/^messages\.1\.progress: /),
    });
    expect(await next(6)).toMatchObject({
      type: 'error',
      message: expect.stringMatching(/^messages\.2\.type: /),
    });

    socket.send(JSON.stringify({ type: 'result', taskId: 'tsk_someone_elses', output: 1 }));
    expect(await next(7)).toMatchObject({
      type: 'error',
      code: 'TASK_LEASE_LOST',
      taskId: 'tsk_someone_elses',
      about: 'result',
    });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });
});
