import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/core/access.ts';
import type { Task } from '../../src/core/task.ts';
import { isTerminal } from '../../src/core/task-states.ts';
import { TEST_POSTGRES_URL } from '../../src/store/test-stores.ts';
import { anthropicMessage, type LlmProviderFixture, startLlmProvider } from '../fixtures/llm-provider.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * The runner end to end (issue 4 §4-5): a real Ziggie runs tasks of agents with local executors —
 * real child processes (shell), a real HTTP endpoint (http), a real MCP server through the gateway
 * (mcp), and the real Anthropic SDK against a loopback server speaking its wire format (llm).
 */

const SHELL_AGENT = join(process.cwd(), 'test/fixtures/shell-agent.mjs');
const ctx = { actor: SYSTEM_ACTOR };

/** Each run on SQLite (a file) and on PostgreSQL (a schema of its own, dropped afterwards). */
const STORAGES = [
  ['sqlite', () => ({})],
  ['postgres', () => ({ url: `${TEST_POSTGRES_URL}?schema=runner_${randomBytes(6).toString('hex')}` })],
] as const;

describe.each(STORAGES)('Runner (%s)', (dialect, storage) => {
  let h: Harness;
  let schemaUrl: string | undefined;
  let hook: Server;
  let provider: LlmProviderFixture;
  const posted: unknown[] = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        posted.push(JSON.parse(body));
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            output: { received: true },
            usage: { inputTokens: 3, outputTokens: 4, cost: 0.5 },
          }),
        );
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    provider = await startLlmProvider();
    const where = storage() as { url?: string };
    schemaUrl = where.url;
    h = await startZiggie({
      storage: where,
      mcpServers: { everything: everythingStdio() },
      orchestrator: { sweepIntervalMs: 50, leaseMs: 2000, retry: { initialDelayMs: 10, maxDelayMs: 50 } },
    });
    const node = process.execPath;
    const agents = [
      {
        id: 'sh',
        executor: { type: 'shell', command: node, args: [SHELL_AGENT, 'report', '{{input.word}}'] },
        capacity: 4,
      },
      { id: 'sh-fail', executor: { type: 'shell', command: node, args: [SHELL_AGENT, 'fail', '7'] } },
      {
        id: 'sh-hang',
        executor: { type: 'shell', command: node, args: [SHELL_AGENT, 'hang', '{{input.pidFile}}'] },
        skills: ['hanging'],
        capacity: 1,
      },
      {
        id: 'web',
        executor: { type: 'http', url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/run` },
      },
      { id: 'tool', executor: { type: 'mcp', tool: 'everything__echo' } },
      {
        id: 'writer',
        executor: {
          type: 'llm',
          provider: 'anthropic',
          model: 'claude-test',
          baseUrl: provider.url,
          pricing: { inputPerMTok: 1_000_000, outputPerMTok: 0 },
        },
      },
    ];
    for (const agent of agents) await h.ziggie.agents.create({ name: agent.id, tier: 'L3', ...agent }, ctx);
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    await provider?.close();
    hook?.close();
    if (dialect === 'postgres' && schemaUrl) {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists "${new URL(schemaUrl).searchParams.get('schema')}" cascade`);
      await client.end();
    }
  });

  const submit = async (body: Record<string, unknown>) =>
    (await h.ziggie.tasks.submit({ taskType: 'run', ...body }, ctx)).task;
  const settled = async (id: string, timeoutMs = 15_000): Promise<Task> => {
    let task: Task | undefined;
    await waitFor(
      async () => {
        task = await h.ziggie.store.tasks.get(id);
        return task !== undefined && isTerminal(task);
      },
      timeoutMs,
      `task ${id} to finish`,
    );
    return task as Task;
  };

  it('runs a shell agent: input on stdin, argument template, JSON stdout as the output', async () => {
    const task = await submit({ agentId: 'sh', input: { word: 'hello world; $(rm -rf /)' } });
    const done = await settled(task.id);
    expect(done.status).toBe('COMPLETED');
    expect(done.output).toMatchObject({
      argv: ['hello world; $(rm -rf /)'],
      stdin: { word: 'hello world; $(rm -rf /)' },
      env: { ZIGGIE_TASK_ID: task.id, ZIGGIE_AGENT_ID: 'sh' },
    });
    expect(done.attempts).toBe(1);
    expect(h.ziggie.runner.running).toBe(0);
  });

  it('retries a failing shell agent until its attempts are used, with the stderr tail in the error', async () => {
    const task = await submit({ agentId: 'sh-fail', maxAttempts: 2 });
    const done = await settled(task.id);
    expect(done).toMatchObject({ status: 'FAILED', attempts: 2, error: { code: 'EXECUTOR_EXIT' } });
    expect(done.error?.message).toMatch(/code 7.*the real reason is at the end/s);
    const detail = await h.ziggie.tasks.get(task.id);
    expect(detail.log.some((l) => l.stream === 'stderr' && l.text.includes('the real reason'))).toBe(true);
    expect(detail.transitions.map((t) => t.to)).toEqual([
      'PENDING',
      'ASSIGNED',
      'IN_PROGRESS',
      'FAILED',
      'ASSIGNED',
      'IN_PROGRESS',
      'FAILED',
    ]);
  });

  it('cancelling a running shell task kills its whole process tree', async () => {
    const pidFile = join(h.dir, 'cancel.pids');
    const task = await submit({ agentId: 'sh-hang', input: { pidFile } });
    await waitFor(() => existsSync(pidFile), 10_000, 'the process tree to start');
    const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
    await h.ziggie.tasks.cancel(task.id, { reason: 'kill switch' }, ctx);
    await waitFor(() => pids.every((pid) => !alive(pid)), 10_000, 'the process tree to die');
    await waitFor(() => h.ziggie.runner.running === 0, 5000, 'the runner to let go');
    expect((await h.ziggie.store.tasks.get(task.id))?.status).toBe('CANCELLED');
  });

  it('a deadline that passes fails the running task for good and kills its processes', async () => {
    const pidFile = join(h.dir, 'deadline.pids');
    const task = await submit({
      agentId: 'sh-hang',
      input: { pidFile },
      deadline: new Date(Date.now() + 1500).toISOString(),
    });
    await waitFor(() => existsSync(pidFile), 10_000, 'the process tree to start');
    const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
    const done = await settled(task.id);
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'deadline' } });
    await waitFor(() => pids.every((pid) => !alive(pid)), 10_000, 'the process tree to die');
  });

  it('a PENDING task gets the agent once its capacity frees up', async () => {
    const pidFile = join(h.dir, 'busy.pids');
    const busy = await submit({ agentId: 'sh-hang', input: { pidFile } });
    await waitFor(() => existsSync(pidFile), 10_000, 'the busy task to start');
    const waiting = await submit({ skills: ['hanging'], input: { pidFile: join(h.dir, 'second.pids') } });
    expect(waiting.status).toBe('PENDING');
    expect(waiting.why).toMatch(/capacity/);
    await h.ziggie.tasks.cancel(busy.id, {}, ctx);
    await waitFor(
      async () => (await h.ziggie.store.tasks.get(waiting.id))?.status === 'IN_PROGRESS',
      10_000,
      'the waiting task to start',
    );
    await h.ziggie.tasks.cancel(waiting.id, {}, ctx);
  });

  it('runs an http agent: the task POSTed, {output, usage} taken', async () => {
    const task = await submit({ agentId: 'web', input: { n: 1 } });
    const done = await settled(task.id);
    expect(done).toMatchObject({
      status: 'COMPLETED',
      output: { received: true },
      inputTokens: 3,
      cost: 0.5,
    });
    expect(posted.at(-1)).toMatchObject({ task: { id: task.id, input: { n: 1 } }, agent: { id: 'web' } });
  });

  it('runs an mcp agent: one call of a gateway tool with the input as arguments', async () => {
    const task = await submit({ agentId: 'tool', input: { message: 'through the gateway' } });
    const done = await settled(task.id);
    expect(done.status).toBe('COMPLETED');
    expect(JSON.stringify(done.output)).toContain('through the gateway');
  });

  it('runs an llm agent: the model calls a gateway tool, then answers; usage and cost are recorded', async () => {
    provider.reply(
      anthropicMessage({
        toolCalls: [{ id: 'call-1', name: 'everything__echo', arguments: { message: 'ping' } }],
        usage: { input: 10, output: 2 },
      }),
      anthropicMessage({ text: 'the tool said pong-ish', usage: { input: 20, output: 5 } }),
    );
    const task = await submit({ agentId: 'writer', input: 'use the echo tool' });
    const done = await settled(task.id);
    expect(done).toMatchObject({
      status: 'COMPLETED',
      output: {
        text: 'the tool said pong-ish',
        steps: 2,
        toolCalls: [{ name: 'everything__echo', isError: false }],
      },
      inputTokens: 30,
      outputTokens: 7,
      cost: 30,
    });
    // The tool's answer went back to the model.
    expect(JSON.stringify(provider.requests.at(-1)?.body)).toContain('ping');
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead but still listed; /proc says so.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
