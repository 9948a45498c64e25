import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resultFromTaskOutcome, type TaskEnabledSession } from '@modelcontextprotocol/ext-tasks/client';
import { taskId as asTaskId } from '@modelcontextprotocol/ext-tasks/core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { Ziggie } from '../../src/ziggie.ts';
import {
  connectTaskClient,
  rawDispatcher,
  settle,
  TASK_CLIENT_CAPABILITIES,
  type TaskClient,
} from '../helpers/task-client.ts';
import { type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * Tasks passed through to an upstream that runs tasks itself (test/fixtures/tasks-server.ts, a
 * 2026-07-28 server declaring the Tasks extension), beside an upstream without task support whose
 * calls Ziggie runs as tasks in its store. The client is the official Tasks client (ext-tasks)
 * over the SDK v2 client, through Ziggie's /mcp.
 */

const TASKS_FIXTURE = join(process.cwd(), 'test/fixtures/tasks-server.ts');
const PLAIN_FIXTURE = join(process.cwd(), 'test/fixtures/modern-server.ts');

const ENDPOINT = 'ziggie-passthrough-test';
/** Ids of tasks Ziggie passed through: sealed, so they route back to their upstream. */
const SEALED = /^zt1\.[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type CallResult = { content?: Array<{ type: string; text?: string }> };
const textOf = (result: unknown) => JSON.stringify((result as CallResult).content);

interface LogLine {
  event: 'created' | 'get' | 'update' | 'cancel';
  taskId: string;
  tool: string;
  status: string;
  keys?: string[];
}

/** The fixture serving Streamable HTTP in a child process; resolves with its URL. */
async function startHttpFixture(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [TASKS_FIXTURE, '--http'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('http'));
      if (line) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`the fixture exited early (${code})`)));
  });
  return { child, url };
}

describe.each([{ transport: 'stdio' }, { transport: 'http' }])(
  'tasks passed through to upstreams that run tasks ($transport upstream)',
  ({ transport }) => {
    let harness: Harness;
    let c: TaskClient;
    let fixture: ChildProcess | undefined;
    const taskLog = join(tmpdir(), `ziggie-task-passthrough-${transport}-${process.pid}-${Date.now()}.log`);
    const events = (): LogLine[] =>
      existsSync(taskLog)
        ? readFileSync(taskLog, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as LogLine)
        : [];
    /** The upstream task a call created: the newest `created` line for `tool`. */
    const createdFor = (tool: string): LogLine | undefined =>
      events().findLast((e) => e.event === 'created' && e.tool === tool);

    beforeAll(async () => {
      let up: Record<string, unknown> = {
        command: process.execPath,
        args: [TASKS_FIXTURE],
        env: { TASK_LOG: taskLog },
      };
      if (transport === 'http') {
        const started = await startHttpFixture({ TASK_LOG: taskLog });
        fixture = started.child;
        up = { transport: 'http', url: started.url };
      }
      harness = await startZiggie({
        gateway: { tasks: { afterMs: 0, pollIntervalMs: 40 } },
        mcpServers: {
          up,
          plain: { command: process.execPath, args: [PLAIN_FIXTURE] },
        },
      });
      const view = harness.ziggie.gateway.aggregateView();
      await waitFor(
        () => ['up__slow', 'plain__count'].every((t) => view.resolveTool(t) !== undefined),
        20_000,
        'the upstream tools listed',
      );
      c = await connectTaskClient(`${harness.baseUrl}/mcp`, ENDPOINT);
    });

    afterAll(async () => {
      await c?.close();
      await harness?.stop();
      fixture?.kill();
      rmSync(taskLog, { force: true });
    });

    it("creates the task upstream and polls the upstream's task to completion", async () => {
      const execution = await c.session.callTool('up__slow', { ms: 300 });
      expect(execution.kind).toBe('task');
      if (execution.kind !== 'task') return;
      const id = execution.handle.taskId;
      // The upstream made the task; the client holds a sealed id that does not show the upstream's.
      const upstreamTask = createdFor('slow');
      expect(upstreamTask?.taskId).toMatch(/^upstream-task-\d+$/);
      expect(id).toMatch(SEALED);
      expect(id).not.toContain(upstreamTask?.taskId);
      // Ziggie stored nothing: the task is the upstream's.
      expect(harness.ziggie.gateway.tasks?.size).toBe(0);
      const { statuses, result } = await settle(execution);
      expect(textOf(result)).toContain('slow done after 300 ms');
      expect(statuses[0]).toBe('working');
      expect(statuses.at(-1)).toBe('completed');
      // Every poll reached the upstream, for its own task id.
      const polls = events().filter((e) => e.event === 'get' && e.taskId === upstreamTask?.taskId);
      expect(polls.length).toBeGreaterThanOrEqual(2);
      expect(polls.at(-1)?.status).toBe('completed');
    });

    it("passes the upstream's input request to the client and its answer back with tasks/update", async () => {
      c.inputs.length = 0;
      const execution = await c.session.callTool('up__ask', {});
      if (execution.kind !== 'task') throw new Error('expected a task');
      const upstreamTask = createdFor('ask');
      const { statuses, result } = await settle(execution);
      expect(textOf(result)).toContain('hello Ada');
      expect(c.inputs).toEqual(['elicitation']);
      expect(statuses).toContain('input_required');
      expect(statuses.at(-1)).toBe('completed');
      expect(events()).toContainEqual(
        expect.objectContaining({ event: 'update', taskId: upstreamTask?.taskId, keys: ['name'] }),
      );
    });

    it('cancels the task upstream', async () => {
      const execution = await c.session.callTool('up__forever', {});
      if (execution.kind !== 'task') throw new Error('expected a task');
      const upstreamTask = createdFor('forever');
      const task = c.session.task(execution.handle.taskId);
      expect((await task.snapshot()).status).toBe('working');
      await execution.cancel();
      expect(events()).toContainEqual(
        expect.objectContaining({ event: 'cancel', taskId: upstreamTask?.taskId }),
      );
      expect(await task.snapshot()).toMatchObject({
        status: 'cancelled',
        statusMessage: 'cancelled upstream',
      });
    });

    it('passes on an answer the upstream gives at once, without a task', async () => {
      const before = events().length;
      const execution = await c.session.callTool('up__instant', {});
      expect(execution.kind).toBe('immediate');
      expect(textOf(resultFromTaskOutcome(await execution.result()))).toContain('instant answer');
      expect(events().length).toBe(before);
    });

    it('leaves a call whose upstream asks for input before making a task to the gateway (a Ziggie-run task)', async () => {
      c.inputs.length = 0;
      const execution = await c.session.callTool('up__confirm-first', {});
      if (execution.kind !== 'task') throw new Error('expected a task');
      expect(execution.handle.taskId).toMatch(UUID);
      expect(textOf((await settle(execution)).result)).toContain('confirmed: true');
      expect(c.inputs).toEqual(['elicitation']);
    });

    it('still runs the calls of an upstream without task support as Ziggie tasks, in its store', async () => {
      const execution = await c.session.callTool('plain__count', { n: 3, ms: 20 });
      if (execution.kind !== 'task') throw new Error('expected a task');
      const id = execution.handle.taskId;
      expect(id).toMatch(UUID);
      expect(textOf((await settle(execution)).result)).toContain('counted to 3');
      const owner = `user:${harness.ziggie.auth.localIdentity?.actor.id}`;
      expect(await harness.ziggie.store.mcpTasks.get(id, owner)).toMatchObject({ status: 'completed' });
    });

    it('answers tasks/* from a client that does not declare the extension with -32021', async () => {
      const execution = await c.session.callTool('up__slow', { ms: 1 });
      if (execution.kind !== 'task') throw new Error('expected a task');
      await settle(execution);
      const before = events().length;
      const raw = await rawDispatcher(`${harness.baseUrl}/mcp`);
      try {
        const _meta = {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'no-tasks', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': TASK_CLIENT_CAPABILITIES,
        };
        for (const method of ['tasks/get', 'tasks/cancel']) {
          const answer = await raw.dispatch({ method, params: { taskId: execution.handle.taskId, _meta } });
          expect(answer).toMatchObject({ kind: 'error', error: { code: -32021 } });
        }
      } finally {
        await raw.close();
      }
      expect(events().length).toBe(before);
    });

    it('routes its ids from another Ziggie sharing the store (a restart, a second node)', async () => {
      const execution = await c.session.callTool('up__slow', { ms: 1 });
      if (execution.kind !== 'task') throw new Error('expected a task');
      await settle(execution);
      const id = execution.handle.taskId;
      // The sealing key is the store's: a second Ziggie on the same database opens the id.
      const config = await loadConfig({ path: join(harness.dir, 'ziggie.yaml'), env: process.env });
      const second = await Ziggie.start(config, { logger: pino({ level: 'silent' }) });
      try {
        const url = await second.listen();
        const view = second.gateway.aggregateView();
        await waitFor(() => view.resolveTool('up__slow') !== undefined, 20_000, 'the second node listing');
        const other = await connectTaskClient(`${url}/mcp`, ENDPOINT);
        try {
          const snapshot = other.session.task(asTaskId(id)).snapshot();
          if (transport === 'http') {
            // The same upstream process: its task, found.
            expect((await snapshot).status).toBe('completed');
          } else {
            // A stdio upstream is the second node's own process, which never made that task: the
            // id opened and the request reached it (its own "not found", not Ziggie's).
            await expect(snapshot).rejects.toMatchObject({
              message: expect.stringContaining('Task not found'),
            });
          }
        } finally {
          await other.close();
        }
      } finally {
        await second.stop();
      }
    });

    describe('task ids that do not route', () => {
      /** The id of a real passed-through task, run to its end. */
      async function realTask(): Promise<string> {
        const execution = await c.session.callTool('up__slow', { ms: 1 });
        if (execution.kind !== 'task') throw new Error('expected a task');
        await settle(execution);
        expect(execution.handle.taskId).toMatch(SEALED);
        return execution.handle.taskId;
      }

      async function refused(session: TaskEnabledSession, id: string): Promise<void> {
        const before = events().length;
        const task = session.task(asTaskId(id));
        const notFound = { code: -32602, message: expect.stringContaining(`task ${id} not found`) };
        await expect(task.snapshot()).rejects.toMatchObject(notFound);
        await expect(task.cancel()).rejects.toMatchObject(notFound);
        await expect(
          task.update({ name: { action: 'accept', content: { name: 'Eve' } } }),
        ).rejects.toMatchObject(notFound);
        // Nothing reached the upstream.
        expect(events().length).toBe(before);
      }

      it('refuses a forged id', async () => {
        await refused(c.session, `zt1.${randomBytes(48).toString('base64url')}`);
      });

      it('refuses an altered id', async () => {
        const id = await realTask();
        const body = Buffer.from(id.slice(4), 'base64url');
        body[20] = (body[20] ?? 0) ^ 1;
        await refused(c.session, `zt1.${body.toString('base64url')}`);
      });

      it("refuses another identity's id", async () => {
        const sealer = harness.ziggie.gateway.tasks?.sealer;
        const upstreamTask = createdFor('slow')?.taskId ?? 'upstream-task-1';
        const theirs = sealer?.seal({ server: 'up', taskId: upstreamTask }, 'someone-else') ?? '';
        await refused(c.session, theirs);
      });

      it('refuses an id on an endpoint that does not show its upstream', async () => {
        const id = await realTask();
        const other = await connectTaskClient(`${harness.baseUrl}/servers/plain/mcp`, ENDPOINT);
        try {
          await refused(other.session, id);
        } finally {
          await other.close();
        }
        // The same id still routes on /mcp.
        expect((await c.session.task(asTaskId(id)).snapshot()).status).toBe('completed');
      });

      it("passes on the upstream's error for a task it no longer knows", async () => {
        // Sealed by Ziggie for this client, naming a task the upstream never made.
        const owner = `user:${harness.ziggie.auth.localIdentity?.actor.id}`;
        const ghost = harness.ziggie.gateway.tasks?.sealer.seal(
          { server: 'up', taskId: 'upstream-task-0' },
          owner,
        );
        await expect(c.session.task(asTaskId(ghost ?? '')).snapshot()).rejects.toMatchObject({
          code: -32602,
          message: expect.stringContaining('Task not found'),
        });
      });
    });
  },
);
