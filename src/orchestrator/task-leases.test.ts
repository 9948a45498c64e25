import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskChangedEvent } from '../bus/events.ts';
import { MemoryBus } from '../bus/memory-bus.ts';
import { type NewAgent, NewAgentSchema } from '../core/agent.ts';
import { forEachDialect } from '../store/test-stores.ts';
import type { Store } from '../store/types.ts';
import { type TaskContext, TaskService } from './task-service.ts';

const operator: TaskContext = { actor: { type: 'user', id: 'op' } };

/** Two L2 agents share a skill (a retry can move between them); one L3 below each. */
const AGENTS = [
  { id: 'lead', tier: 'L1' },
  { id: 'w1', tier: 'L2', parent: 'lead', skills: ['build'], capacity: 100 },
  { id: 'w2', tier: 'L2', parent: 'lead', skills: ['build'], capacity: 100 },
  { id: 'm1', tier: 'L3', parent: 'w1', skills: ['part'], capacity: 100 },
  { id: 'm2', tier: 'L3', parent: 'w1', skills: ['part'], capacity: 100 },
].map((a) => NewAgentSchema.parse({ name: a.id, ...a }) as NewAgent);

describe('TaskLeases', () => {
  forEachDialect(({ dialect, store, database }) => {
    let tasks: TaskService;
    const events: TaskChangedEvent[] = [];
    beforeAll(async () => {
      const bus = new MemoryBus();
      bus.subscribe('task.changed', (event) => events.push(event));
      tasks = new TaskService(store(), { bus, backoff: { initialDelayMs: 1, maxDelayMs: 1 } });
      await store().agents.insert(AGENTS);
    });
    const submit = async (body: Record<string, unknown>) =>
      (await tasks.submit({ taskType: 't', ...body }, operator)).task;
    const claimFor = (agentId: string, owner = 'node-a:boot-1', leaseMs = 60_000) =>
      tasks.leases.claim({ owner, leaseMs, limit: 50, agentIds: [agentId] });

    it('claims ASSIGNED tasks most urgent first, as attempts holding a lease, and publishes the moves', async () => {
      const low = await submit({ agentId: 'w1', priority: 'LOW' });
      const critical = await submit({ agentId: 'w1', priority: 'CRITICAL' });
      events.length = 0;
      const claimed = await claimFor('w1');
      expect(claimed.map((t) => t.id)).toEqual([critical.id, low.id]);
      expect(claimed[0]).toMatchObject({ status: 'IN_PROGRESS', attempts: 1, leaseOwner: 'node-a:boot-1' });
      expect(claimed[0]?.leaseExpiresAt?.getTime()).toBeGreaterThan(Date.now() + 50_000);
      expect(events.map((e) => [e.id, e.from, e.status])).toEqual([
        [critical.id, 'ASSIGNED', 'IN_PROGRESS'],
        [low.id, 'ASSIGNED', 'IN_PROGRESS'],
      ]);
      expect(await claimFor('w1')).toEqual([]);
      // Finish them so the later tests start from an idle w1.
      for (const task of claimed)
        await tasks.leases.finish(task.id, 'node-a:boot-1', { ok: true, output: 1 });
    });

    it('completes an attempt with its output and usage; another owner is refused with TASK_LEASE_LOST', async () => {
      const task = await submit({ agentId: 'w1' });
      await claimFor('w1');
      await expect(
        tasks.leases.finish(task.id, 'someone-else', { ok: true, output: 1 }),
      ).rejects.toMatchObject({
        code: 'TASK_LEASE_LOST',
      });
      const done = await tasks.leases.finish(task.id, 'node-a:boot-1', {
        ok: true,
        output: { answer: 42 },
        usage: { inputTokens: 10, outputTokens: 5, cost: 0.01 },
      });
      expect(done).toMatchObject({
        status: 'COMPLETED',
        output: { answer: 42 },
        inputTokens: 10,
        leaseOwner: null,
        leaseExpiresAt: null,
      });
      await expect(
        tasks.leases.finish(task.id, 'node-a:boot-1', { ok: true, output: 2 }),
      ).rejects.toMatchObject({
        code: 'TASK_LEASE_LOST',
      });
    });

    it('results reported together complete each task with its own output and usage, in one go', async () => {
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await submit({ agentId: 'w2', taskType: `batch-${i}` })).id);
      await claimFor('w2', 'batch-owner');
      const done = await Promise.all(
        ids.map((id, i) =>
          tasks.leases.finish(id, 'batch-owner', {
            ok: true,
            output: { n: i },
            usage: { inputTokens: i, outputTokens: 10 * i, cost: i / 10 },
          }),
        ),
      );
      expect(done.map((t) => t.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
      for (const [i, id] of ids.entries()) {
        const stored = await store().tasks.get(id);
        expect(stored).toMatchObject({
          status: 'COMPLETED',
          output: { n: i },
          inputTokens: i,
          outputTokens: 10 * i,
          leaseOwner: null,
        });
        expect(stored?.cost).toBeCloseTo(i / 10);
        expect(stored?.durationMs).toBeGreaterThanOrEqual(0);
        expect(stored?.completedAt).not.toBeNull();
      }
      // A second report of a finished attempt is refused.
      await expect(
        tasks.leases.finish(ids[0] ?? '', 'batch-owner', { ok: true, output: 0 }),
      ).rejects.toMatchObject({
        code: 'TASK_LEASE_LOST',
      });
    });

    it('heartbeats extend only the leases the owner holds', async () => {
      const task = await submit({ agentId: 'w1' });
      const [claimed] = await claimFor('w1', 'hb-owner', 1000);
      const lost = await tasks.leases.heartbeat([task.id, 'tsk_unknown'], 'hb-owner', 120_000);
      expect(lost).toEqual(['tsk_unknown']);
      const after = await store().tasks.get(task.id);
      expect(after?.leaseExpiresAt?.getTime()).toBeGreaterThan(
        (claimed?.leaseExpiresAt?.getTime() ?? 0) + 100_000,
      );
      expect(await tasks.leases.heartbeat([task.id], 'not-the-owner', 120_000)).toEqual([task.id]);
      await tasks.leases.finish(task.id, 'hb-owner', { ok: true, output: null });
    });

    it('a retryable failure goes back to the same agent after the backoff; a non-retryable one is final', async () => {
      const task = await submit({ agentId: 'w1', maxAttempts: 3 });
      await claimFor('w1');
      const retried = await tasks.leases.finish(task.id, 'node-a:boot-1', {
        ok: false,
        error: { code: 'EXECUTOR_EXIT', message: 'exited with code 1' },
        retryable: true,
      });
      expect(retried).toMatchObject({ status: 'ASSIGNED', assignee: 'w1', attempts: 1 });
      expect(retried.notBefore).not.toBeNull();
      await new Promise((r) => setTimeout(r, 5));
      await claimFor('w1');
      const final = await tasks.leases.finish(task.id, 'node-a:boot-1', {
        ok: false,
        error: { code: 'EXECUTOR_SPAWN', message: 'no such command' },
        retryable: false,
      });
      expect(final).toMatchObject({
        status: 'FAILED',
        attempts: 2,
        maxAttempts: 2,
        error: { code: 'EXECUTOR_SPAWN' },
      });
    });

    it('an expired lease fails the attempt (lease_expired) and the task moves to another agent with the skills', async () => {
      const task = await submit({ skills: ['build'], tier: 'L2' });
      const owner = `dead-${task.assignee}`;
      await tasks.leases.claim({ owner, leaseMs: 1, limit: 1, agentIds: [task.assignee ?? ''] });
      await new Promise((r) => setTimeout(r, 10));
      expect(await tasks.leases.expireLeases()).toBeGreaterThanOrEqual(1);
      const moved = await tasks.get(task.id);
      expect(moved.status).toBe('ASSIGNED');
      expect(moved.assignee).not.toBe(task.assignee);
      expect(moved.transitions.map((t) => t.reason)).toContain('lease_expired');
      expect(moved.error).toMatchObject({ code: 'lease_expired' });
    });

    it('at boot, attempts an earlier run of this node held are re-driven at once', async () => {
      const task = await submit({ agentId: 'w2' });
      const held = await claimFor('w2', 'node-b:boot-1');
      expect(held.map((t) => t.id)).toContain(task.id);
      expect(await tasks.leases.redrive('node-b:')).toBe(held.length);
      expect(await store().tasks.get(task.id)).toMatchObject({
        status: 'ASSIGNED',
        assignee: 'w2',
        attempts: 1,
      });
      expect(await tasks.leases.redrive('node-b:')).toBe(0);
    });

    it('deadlines fail a started task for good and cancel one not started, with its subtasks', async () => {
      const past = new Date(Date.now() - 1000).toISOString();
      const started = await submit({ agentId: 'w1', deadline: past });
      const waiting = await submit({ agentId: 'w2', deadline: past });
      const child = (await tasks.submit({ taskType: 'c', agentId: 'm1', parentId: waiting.id }, operator))
        .task;
      await claimFor('w1', 'dl-owner');
      expect(await tasks.leases.enforceDeadlines()).toBeGreaterThanOrEqual(2);
      expect(await store().tasks.get(started.id)).toMatchObject({
        status: 'FAILED',
        error: { code: 'deadline' },
      });
      expect(await store().tasks.get(waiting.id)).toMatchObject({
        status: 'CANCELLED',
        error: { code: 'deadline' },
      });
      expect(await store().tasks.get(child.id)).toMatchObject({ status: 'CANCELLED' });
    });

    it('a parent waiting for its subtasks completes with their outputs (policy all)', async () => {
      const parent = await submit({ agentId: 'w1' });
      await claimFor('w1', 'agg');
      const w1: TaskContext = { actor: { type: 'agent', id: 'w1' } };
      const a = (await tasks.submit({ taskType: 'part', agentId: 'm1', parentId: parent.id }, w1)).task;
      const b = (await tasks.submit({ taskType: 'part', agentId: 'm2', parentId: parent.id }, w1)).task;
      expect(await tasks.leases.awaitSubtasks(parent.id, w1, 'agg')).toMatchObject({
        status: 'IN_PROGRESS',
        awaitingChildren: true,
        leaseOwner: null,
      });
      for (const [child, agent] of [
        [a, 'm1'],
        [b, 'm2'],
      ] as const) {
        await claimFor(agent, 'agg');
        await tasks.leases.finish(child.id, 'agg', { ok: true, output: `${agent} done` });
      }
      const done = await store().tasks.get(parent.id);
      expect(done?.status).toBe('COMPLETED');
      expect(done?.output).toMatchObject({
        subtasks: [
          { id: a.id, status: 'COMPLETED', output: 'm1 done' },
          { id: b.id, status: 'COMPLETED', output: 'm2 done' },
        ],
      });
    });

    it('policy all fails the parent at the first subtask lost and cancels the rest; any completes on one', async () => {
      const w1: TaskContext = { actor: { type: 'agent', id: 'w1' } };
      const strict = await submit({ agentId: 'w1' });
      const lenient = await submit({ agentId: 'w1', childPolicy: 'any' });
      await claimFor('w1', 'pol');
      const kids = async (parentId: string) => [
        (await tasks.submit({ taskType: 'p', agentId: 'm1', parentId, maxAttempts: 1 }, w1)).task,
        (await tasks.submit({ taskType: 'p', agentId: 'm2', parentId, maxAttempts: 1 }, w1)).task,
      ];
      const [s1, s2] = await kids(strict.id);
      const [l1, l2] = await kids(lenient.id);
      await tasks.leases.awaitSubtasks(strict.id, w1);
      await tasks.leases.awaitSubtasks(lenient.id, w1);
      await claimFor('m1', 'pol');
      const lost = { ok: false as const, error: { code: 'x', message: 'broke' }, retryable: true };
      await tasks.leases.finish(s1?.id ?? '', 'pol', lost);
      expect(await store().tasks.get(strict.id)).toMatchObject({
        status: 'FAILED',
        error: { code: 'subtasks_failed' },
      });
      expect(await store().tasks.get(s2?.id ?? '')).toMatchObject({ status: 'CANCELLED' });

      await tasks.leases.finish(l1?.id ?? '', 'pol', lost);
      expect((await store().tasks.get(lenient.id))?.status).toBe('IN_PROGRESS');
      await claimFor('m2', 'pol');
      await tasks.leases.finish(l2?.id ?? '', 'pol', { ok: true, output: 'ok' });
      expect(await store().tasks.get(lenient.id)).toMatchObject({ status: 'COMPLETED' });
    });

    it('awaitSubtasks without subtasks is a CONFLICT', async () => {
      const task = await submit({ agentId: 'w2' });
      await claimFor('w2', 'none');
      await expect(tasks.leases.awaitSubtasks(task.id, operator)).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    // SQLite is one node's database (node:sqlite waits for the write lock synchronously, so two
    // stores in one process would block each other): there the claims race on one store.
    it('two stores claiming the same tasks at once never take one twice', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) ids.add((await submit({ agentId: 'w2', taskType: 'race' })).id);
      const second: Store = dialect === 'postgres' ? await database().open() : store();
      try {
        const other = new TaskService(second);
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            (i % 2 === 0 ? tasks : other).leases.claim({
              owner: `racer-${i}`,
              leaseMs: 60_000,
              limit: 10,
              agentIds: ['w2'],
            }),
          ),
        );
        const got = claims.flat().filter((t) => ids.has(t.id));
        expect(got).toHaveLength(40);
        expect(new Set(got.map((t) => t.id)).size).toBe(40);
      } finally {
        if (second !== store()) await second.close();
      }
    });
  });
});
