import { describe, expect, it } from 'vitest';
import type { Actor } from '../core/access.ts';
import { forEachDialect } from './test-stores.ts';
import type { NewTask } from './types.ts';

const alice: Actor = { type: 'user', id: 'alice' };
let counter = 0;
const newTask = (overrides: Partial<NewTask> = {}): NewTask => ({
  id: `tsk_repo_${String(++counter).padStart(4, '0')}`,
  taskType: 'render',
  priority: 'MEDIUM',
  workspace: 'ziggie',
  creator: alice,
  parentId: null,
  depth: 0,
  requiredSkills: ['blender'],
  input: { scene: 'a', frames: [1, 2] },
  maxAttempts: 3,
  idempotencyKey: null,
  deadline: null,
  childPolicy: null,
  complexity: 'normal',
  milestone: false,
  tier: null,
  createdAt: new Date(1_700_000_000_000 + counter),
  ...overrides,
});

describe('task repo', () => {
  forEachDialect(({ store, database }) => {
    it('inserts a PENDING task with zero counters and reads it back whole', async () => {
      const deadline = new Date('2030-01-01T00:00:00Z');
      const created = await store().tasks.insert(newTask({ idempotencyKey: 'k1', deadline }));
      expect(created).toMatchObject({
        status: 'PENDING',
        creator: alice,
        assignee: null,
        reviewer: null,
        requiredSkills: ['blender'],
        input: { scene: 'a', frames: [1, 2] },
        output: null,
        error: null,
        attempts: 0,
        maxAttempts: 3,
        rejections: 0,
        idempotencyKey: 'k1',
        deadline,
        inputTokens: 0,
        cost: 0,
        why: null,
      });
      expect(await store().tasks.get(created.id)).toEqual(created);
      expect(await store().tasks.get('tsk_none')).toBeUndefined();
      expect(await store().tasks.findByIdempotencyKey(alice, 'k1')).toEqual(created);
      expect(await store().tasks.findByIdempotencyKey({ type: 'user', id: 'bob' }, 'k1')).toBeUndefined();
    });

    it('refuses a second task with the same idempotency key from the same creator, not from another', async () => {
      await store().tasks.insert(newTask({ idempotencyKey: 'dup' }));
      await expect(store().tasks.insert(newTask({ idempotencyKey: 'dup' }))).rejects.toThrow();
      await store().tasks.insert(newTask({ idempotencyKey: 'dup', creator: { type: 'agent', id: 'x' } }));
      // Without a key there is no constraint.
      await store().tasks.insert(newTask());
      await store().tasks.insert(newTask());
    });

    it('updates only the fields given and keeps transitions in order', async () => {
      const { id } = await store().tasks.insert(newTask());
      const now = new Date();
      const updated = await store().tasks.update(id, {
        status: 'COMPLETED',
        output: { ok: true },
        error: { code: 'x', message: 'earlier failure' },
        reviewer: { type: 'agent', id: 'lead' },
        completedAt: now,
        durationMs: 12.5,
        inputTokens: 10,
        outputTokens: 20,
        cost: 0.25,
        why: 'because',
        updatedAt: now,
      });
      expect(updated).toMatchObject({
        status: 'COMPLETED',
        output: { ok: true },
        error: { code: 'x', message: 'earlier failure' },
        reviewer: { type: 'agent', id: 'lead' },
        completedAt: now,
        durationMs: 12.5,
        inputTokens: 10,
        outputTokens: 20,
        cost: 0.25,
        why: 'because',
        requiredSkills: ['blender'],
        attempts: 0,
      });
      expect(await store().tasks.update('tsk_none', { updatedAt: now })).toBeUndefined();
      await store().tasks.appendTransitions([
        { taskId: id, from: null, to: 'PENDING', actor: alice, reason: null, at: new Date(1) },
        {
          taskId: id,
          from: 'PENDING',
          to: 'CANCELLED',
          actor: alice,
          reason: 'no longer needed',
          at: new Date(2),
        },
      ]);
      expect(await store().tasks.transitions(id)).toEqual([
        { taskId: id, from: null, to: 'PENDING', actor: alice, reason: null, at: new Date(1) },
        {
          taskId: id,
          from: 'PENDING',
          to: 'CANCELLED',
          actor: alice,
          reason: 'no longer needed',
          at: new Date(2),
        },
      ]);
    });

    it('refuses a status the state machine does not know (check constraint)', async () => {
      const { id } = await store().tasks.insert(newTask());
      await expect(
        database().rawQuery(`update tasks set status = 'DONE' where id = '${id}'`),
      ).rejects.toThrow();
    });

    it('lists newest first with filters and a cursor, and finds subtasks', async () => {
      const parent = await store().tasks.insert(newTask({ workspace: 'listing' }));
      const kids = [];
      for (let i = 0; i < 3; i++)
        kids.push(
          await store().tasks.insert(newTask({ workspace: 'listing', parentId: parent.id, depth: 1 })),
        );
      const first = await store().tasks.list({ workspace: 'listing' }, { limit: 2 });
      expect(first.items.map((t) => t.id)).toEqual([kids[2]?.id, kids[1]?.id]);
      const second = await store().tasks.list(
        { workspace: 'listing' },
        { limit: 2, cursor: first.nextCursor },
      );
      expect(second).toEqual({ items: [kids[0], parent], nextCursor: null });
      expect((await store().tasks.children(parent.id)).map((t) => t.id)).toEqual(kids.map((t) => t.id));
      expect(
        (await store().tasks.list({ parentId: parent.id, status: 'PENDING' }, { limit: 10 })).items,
      ).toHaveLength(3);
      expect(
        (await store().tasks.list({ workspace: 'listing', status: 'FAILED' }, { limit: 10 })).items,
      ).toEqual([]);
      await expect(store().tasks.list({}, { limit: 1, cursor: 'bogus' })).rejects.toThrow(/cursor/);
    });

    it('finds candidate agents by skill, workspace and tier, and adjusts workload never below zero', async () => {
      await store().agents.insert([
        agent('cand-l1', 'L1', null, ['plan']),
        agent('cand-a', 'L2', 'cand-l1', ['blender', 'python'], 'ws1'),
        agent('cand-b', 'L2', 'cand-l1', ['python'], 'ws2'),
        agent('cand-c', 'L3', 'cand-a', ['blender'], null),
        { ...agent('cand-d', 'L3', 'cand-a', ['blender'], 'ws1'), status: 'disabled' },
      ]);
      const ids = async (skills: string[], workspace: string | null, tiers: ('L1' | 'L2' | 'L3')[]) =>
        (await store().tasks.candidates({ skills, workspace, tiers, limit: 100 }))
          .map((a) => a.id)
          .filter((id) => id.startsWith('cand-'));
      expect(await ids(['blender'], 'ws1', ['L2', 'L3'])).toEqual(['cand-a', 'cand-c']);
      expect(await ids(['python', 'blender'], null, ['L2'])).toEqual(['cand-a', 'cand-b']);
      expect(await ids([], 'ws2', ['L1', 'L2'])).toEqual(['cand-b', 'cand-l1']);
      expect(await ids(['blender'], 'ws1', [])).toEqual([]);
      await store().tasks.adjustWorkload('cand-a', 2);
      await store().tasks.adjustWorkload('cand-a', -1);
      expect((await store().agents.get('cand-a'))?.workload).toBe(1);
      await store().tasks.adjustWorkload('cand-a', -5);
      expect((await store().agents.get('cand-a'))?.workload).toBe(0);
    });

    it("writes a transaction's workloads, transitions and audit entries together, also after another store moved the audit head", async () => {
      await store().agents.insert([agent('moves-a', 'L3', null, []), agent('moves-b', 'L3', null, [])]);
      const task = await store().tasks.insert(newTask(), { assignee: 'moves-a', why: 'test' });
      const other = await database().open();
      const moves = (n: number) => async () =>
        store().transaction((tx) =>
          tx.tasks.writeMoves(
            new Map([
              ['moves-a', n],
              ['moves-b', -1],
            ]),
            [
              {
                taskId: task.id,
                from: 'ASSIGNED',
                to: 'IN_PROGRESS',
                actor: alice,
                reason: `r${n}`,
                at: new Date(),
              },
            ],
            [
              {
                actor: alice,
                action: 'TASK_STARTED',
                entityType: 'task',
                entityId: task.id,
                metadata: { n },
              },
            ],
          ),
        );
      try {
        await moves(2)();
        // Another node appends: this store's idea of the head is stale now.
        await other.audit.append([
          { actor: alice, action: 'WORKSPACE_UPDATED', entityType: 'workspace', entityId: 'other' },
        ]);
        await moves(3)();
        await moves(4)();
      } finally {
        await other.close();
      }
      expect((await store().agents.get('moves-a'))?.workload).toBe(9);
      expect((await store().agents.get('moves-b'))?.workload).toBe(0);
      expect((await store().tasks.transitions(task.id)).map((t) => t.reason)).toEqual(['r2', 'r3', 'r4']);
      const entries = (await store().audit.list({ entityId: task.id }, { limit: 10 })).items;
      expect(entries.map((e) => JSON.parse(e.metadataJson).n)).toEqual([4, 3, 2]);
      // One chain: every entry points at the one before it, the head at the last.
      const { head, anchor } = await store().audit.chainState();
      const all = await store().audit.scan({}, anchor.firstId - 1, 100_000);
      for (let i = 1; i < all.length; i++) expect(all[i]?.prevHash).toBe(all[i - 1]?.hash);
      expect(all.at(-1)).toMatchObject({ id: head.lastId, hash: head.lastHash });
    });

    it('claims the most urgent, then oldest, ASSIGNED tasks of the given agents in one statement', async () => {
      await store().agents.insert([agent('claim-a', 'L3', null, []), agent('claim-b', 'L3', null, [])]);
      const mk = (priority: NewTask['priority'], assignee: string) =>
        store().tasks.insert(newTask({ priority }), { assignee, why: 'test' });
      const low = await mk('LOW', 'claim-a');
      const high = await mk('HIGH', 'claim-a');
      const critical = await mk('CRITICAL', 'claim-a');
      await mk('CRITICAL', 'claim-b');
      const at = new Date();
      const lease = { owner: 'node:c1', expiresAt: new Date(at.getTime() + 30_000), at };
      const claimed = await store().transaction((tx) =>
        tx.tasks.claim({ assignees: ['claim-a'], limit: 2, now: at }, lease),
      );
      expect(claimed.map((t) => t.id)).toEqual([critical.id, high.id]);
      expect(claimed[0]).toMatchObject({
        status: 'IN_PROGRESS',
        attempts: 1,
        leaseOwner: 'node:c1',
        leaseExpiresAt: lease.expiresAt,
        startedAt: at,
        input: { scene: 'a', frames: [1, 2] },
      });
      expect(await store().tasks.get(low.id)).toMatchObject({ status: 'ASSIGNED', attempts: 0 });
      expect(await store().tasks.claimableAssignees(['claim-a', 'claim-b', 'claim-c'], at)).toEqual(
        expect.arrayContaining(['claim-a', 'claim-b']),
      );
    });
  });
});

function agent(
  id: string,
  tier: 'L1' | 'L2' | 'L3',
  parent: string | null,
  skills: string[],
  workspace: string | null = null,
) {
  return {
    id,
    name: id,
    tier,
    team: null,
    workspace,
    parent,
    skills,
    specialization: null,
    status: 'idle' as const,
    capacity: 2,
    workload: 0,
    qualityScore: 100,
    tasksCompleted: 0,
    avgCompletionMs: null,
    executor: null,
    metadata: {},
  };
}
