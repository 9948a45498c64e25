import { beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../core/access.ts';
import type { NewAgent } from '../core/agent.ts';
import { NewAgentSchema } from '../core/agent.ts';
import { type NewWorkspace, NewWorkspaceSchema } from '../core/workspace.ts';
import { forEachDialect } from '../store/test-stores.ts';
import { type TaskContext, TaskService } from './task-service.ts';

const operator: TaskContext = { actor: { type: 'user', id: 'op' }, ip: '127.0.0.1' };
const as = (id: string): TaskContext => ({ actor: { type: 'agent', id } as Actor });

/** A small hierarchy: lead (L1) → dev-a, dev-b (L2, BMAD skills) → micro-1, micro-2 (L3). */
const AGENTS = [
  { id: 'lead', tier: 'L1', skills: ['planning'] },
  { id: 'dev-a', tier: 'L2', parent: 'lead', skills: ['python', 'blender'], capacity: 2 },
  { id: 'dev-b', tier: 'L2', parent: 'lead', skills: ['python'], capacity: 2 },
  { id: 'micro-1', tier: 'L3', parent: 'dev-a', skills: ['blender'] },
  { id: 'micro-2', tier: 'L3', parent: 'dev-a', skills: ['blender'], status: 'disabled' },
].map((a) => NewAgentSchema.parse({ name: a.id, workspace: 'ws', ...a }) as NewAgent);

describe('TaskService', () => {
  forEachDialect(({ store }) => {
    let tasks: TaskService;
    beforeAll(async () => {
      tasks = new TaskService(store(), { maxDepth: 2 });
      await store().agents.insert(AGENTS);
    });
    const workload = async (id: string) => (await store().agents.get(id))?.workload;
    const audit = async (id: string) =>
      (await store().audit.list({ entityType: 'task', entityId: id }, { limit: 100 })).items
        .map((e) => e.action)
        .reverse();

    it('runs a full lifecycle: submit to a named agent, start, review, reject, rework, approve', async () => {
      const { task, created } = await tasks.submit(
        { taskType: 'render', input: { scene: 1 }, agentId: 'dev-a', workspace: 'ws', priority: 'HIGH' },
        operator,
      );
      expect(created).toBe(true);
      expect(task).toMatchObject({ status: 'ASSIGNED', assignee: 'dev-a', why: 'dev-a: named by user op' });
      expect(await workload('dev-a')).toBe(1);
      await tasks.start(task.id, as('dev-a'));
      await tasks.requestReview(task.id, { output: { frames: 1 } }, as('dev-a'));
      expect(await workload('dev-a')).toBe(0);
      const rejected = await tasks.reject(task.id, { feedback: 'too dark' }, as('lead'));
      expect(rejected).toMatchObject({
        status: 'ASSIGNED',
        assignee: 'dev-a',
        rejections: 1,
        reviewFeedback: 'too dark',
      });
      expect(rejected.reviewer).toEqual({ type: 'agent', id: 'lead' });
      await tasks.start(task.id, as('dev-a'));
      await tasks.requestReview(task.id, { output: { frames: 2 } }, as('dev-a'));
      const done = await tasks.approve(task.id, {}, as('lead'));
      expect(done).toMatchObject({ status: 'COMPLETED', attempts: 2, rejections: 1, output: { frames: 2 } });
      expect(done.completedAt).toBeInstanceOf(Date);
      expect(done.durationMs).toBeGreaterThanOrEqual(0);
      expect(await workload('dev-a')).toBe(0);
      const detail = await tasks.get(task.id);
      expect(detail.transitions.map((t) => `${t.from ?? '-'}>${t.to}`)).toEqual([
        '->PENDING',
        'PENDING>ASSIGNED',
        'ASSIGNED>IN_PROGRESS',
        'IN_PROGRESS>REVIEW_REQUESTED',
        'REVIEW_REQUESTED>REJECTED',
        'REJECTED>ASSIGNED',
        'ASSIGNED>IN_PROGRESS',
        'IN_PROGRESS>REVIEW_REQUESTED',
        'REVIEW_REQUESTED>APPROVED',
        'APPROVED>COMPLETED',
      ]);
      expect(detail.transitions[4]).toMatchObject({
        actor: { type: 'agent', id: 'lead' },
        reason: 'too dark',
      });
      // One audit entry per transition, in the same order.
      expect(await audit(task.id)).toEqual([
        'TASK_CREATED',
        'TASK_DELEGATED',
        'TASK_STARTED',
        'TASK_REVIEW_REQUESTED',
        'TASK_REJECTED',
        'TASK_DELEGATED',
        'TASK_STARTED',
        'TASK_REVIEW_REQUESTED',
        'TASK_APPROVED',
        'TASK_COMPLETED',
      ]);
    });

    it('completes with usage, and retries a failure while attempts remain, then FAILED is final', async () => {
      const { task } = await tasks.submit({ taskType: 't', agentId: 'dev-b', maxAttempts: 2 }, operator);
      await tasks.start(task.id, as('dev-b'));
      const retried = await tasks.fail(task.id, { error: { code: 'E1', message: 'crashed' } }, as('dev-b'));
      expect(retried).toMatchObject({
        status: 'ASSIGNED',
        attempts: 1,
        error: { code: 'E1', message: 'crashed' },
      });
      await tasks.start(task.id, as('dev-b'));
      const failed = await tasks.fail(task.id, { error: { message: 'again' } }, as('dev-b'));
      expect(failed).toMatchObject({ status: 'FAILED', attempts: 2 });
      await expect(tasks.start(task.id, operator)).rejects.toMatchObject({
        code: 'TASK_TRANSITION_INVALID',
        message: 'a task in FAILED cannot move to IN_PROGRESS; FAILED is final: all 2 attempts were used',
      });
      expect(await audit(task.id)).toEqual([
        'TASK_CREATED',
        'TASK_DELEGATED',
        'TASK_STARTED',
        'TASK_FAILED',
        'TASK_DELEGATED',
        'TASK_STARTED',
        'TASK_FAILED',
      ]);
      expect(await workload('dev-b')).toBe(0);

      const { task: second } = await tasks.submit({ taskType: 't', agentId: 'dev-b' }, operator);
      await tasks.start(second.id, operator);
      const done = await tasks.complete(
        second.id,
        { output: 'ok', usage: { inputTokens: 10, outputTokens: 5, cost: 0.01 } },
        as('dev-b'),
      );
      expect(done).toMatchObject({
        status: 'COMPLETED',
        output: 'ok',
        inputTokens: 10,
        outputTokens: 5,
        cost: 0.01,
      });
    });

    it('assigns by skills with chooseAgent and records why; nobody suitable leaves it PENDING with the reason', async () => {
      const { task } = await tasks.submit(
        { taskType: 'model', skills: ['blender', 'python'], workspace: 'ws' },
        operator,
      );
      expect(task).toMatchObject({
        status: 'ASSIGNED',
        assignee: 'dev-a',
        why: 'dev-a: 2/2 required skills, load 0/2',
      });
      // An L2 creator may only reach L3s: micro-1 (micro-2 is disabled).
      const { task: sub } = await tasks.submit(
        { taskType: 'uv', skills: ['blender'], parentId: task.id },
        as('dev-a'),
      );
      expect(sub).toMatchObject({
        status: 'ASSIGNED',
        assignee: 'micro-1',
        parentId: task.id,
        depth: 1,
        workspace: 'ws',
      });
      const { task: none } = await tasks.submit(
        { taskType: 'x', skills: ['cobol'], workspace: 'ws' },
        operator,
      );
      expect(none).toMatchObject({ status: 'PENDING', assignee: null });
      expect(none.why).toMatch(/no available agent/);
      const assigned = await tasks.assign(none.id, { agentId: 'dev-b' }, operator);
      expect(assigned.status).toBe('ASSIGNED');
    });

    it('refuses bad input: unknown or disabled agent, upward and sideways delegation, loops, depth, L3 creators', async () => {
      await expect(tasks.submit({ taskType: 't', agentId: 'ghost' }, operator)).rejects.toMatchObject({
        code: 'AGENT_NOT_FOUND',
      });
      await expect(tasks.submit({ taskType: 't', agentId: 'micro-2' }, operator)).rejects.toMatchObject({
        code: 'TASK_ASSIGNEE_UNAVAILABLE',
      });
      await expect(tasks.submit({ taskType: 't', agentId: 'lead' }, as('dev-a'))).rejects.toMatchObject({
        code: 'TASK_DELEGATION_REFUSED',
        details: { rule: 'down_only' },
        message: expect.stringContaining('dev-a (L2) may not delegate to lead (L1)'),
      });
      await expect(tasks.submit({ taskType: 't', agentId: 'dev-b' }, as('dev-a'))).rejects.toMatchObject({
        code: 'TASK_DELEGATION_REFUSED',
        message: expect.stringContaining('never sideways'),
      });
      await expect(tasks.submit({ taskType: 't', agentId: 'micro-1' }, as('micro-1'))).rejects.toMatchObject({
        code: 'TASK_DELEGATION_REFUSED',
        message: 'micro-1 (L3) has no tier below it to delegate to',
      });
      await expect(
        tasks.submit({ taskType: 't', skills: ['python'], tier: 'L1' }, as('dev-a')),
      ).rejects.toMatchObject({
        details: { rule: 'down_only' },
      });
      // Loop: micro-1 works on the parent; a subtask back to it is refused.
      const { task: top } = await tasks.submit({ taskType: 'top', agentId: 'dev-a' }, operator);
      const { task: mid } = await tasks.submit(
        { taskType: 'mid', agentId: 'micro-1', parentId: top.id },
        as('dev-a'),
      );
      await expect(
        tasks.submit({ taskType: 'loop', agentId: 'micro-1', parentId: mid.id }, operator),
      ).rejects.toMatchObject({ code: 'TASK_DELEGATION_REFUSED', details: { rule: 'no_loop' } });
      const { task: deep } = await tasks.submit({ taskType: 'd2', parentId: mid.id }, operator);
      await expect(tasks.submit({ taskType: 'd3', parentId: deep.id }, operator)).rejects.toMatchObject({
        details: { rule: 'max_depth' },
      });
      await expect(tasks.submit({ taskType: 't', parentId: 'tsk_nope' }, operator)).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
      });
      await expect(tasks.submit({ taskType: '' }, operator)).rejects.toThrow();
      await expect(
        tasks.submit({ taskType: 't', agentId: 'dev-a', skills: ['x'] }, operator),
      ).rejects.toThrow(/agentId or skills/);
    });

    it('refuses illegal transitions and agents acting on tasks that are not theirs', async () => {
      const { task } = await tasks.submit({ taskType: 't', agentId: 'dev-b' }, operator);
      await expect(tasks.complete(task.id, {}, operator)).rejects.toMatchObject({
        code: 'TASK_TRANSITION_INVALID',
        details: { from: 'ASSIGNED', to: 'COMPLETED', allowed: ['IN_PROGRESS', 'CANCELLED'] },
      });
      await expect(tasks.approve(task.id, {}, operator)).rejects.toMatchObject({
        code: 'TASK_TRANSITION_INVALID',
      });
      await expect(tasks.start(task.id, as('dev-a'))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await tasks.start(task.id, as('dev-b'));
      await tasks.requestReview(task.id, {}, as('dev-b'));
      // The assignee cannot review itself; a peer cannot either.
      await expect(tasks.approve(task.id, {}, as('dev-b'))).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
      });
      await expect(tasks.approve(task.id, {}, as('dev-a'))).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
      });
      await expect(tasks.reject(task.id, {}, operator)).rejects.toThrow(/feedback/);
      await expect(tasks.get('tsk_nope')).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
      // Nothing of the refused attempts was written.
      expect((await tasks.get(task.id)).transitions).toHaveLength(4);
      expect((await tasks.approvals({}, { limit: 100 })).items.map((t) => t.id)).toContain(task.id);
    });

    it('answers the same task for the same idempotency key, even when submitted concurrently', async () => {
      const body = { taskType: 't', agentId: 'dev-b', idempotencyKey: 'once' };
      const results = await Promise.all([1, 2, 3, 4].map(() => tasks.submit(body, operator)));
      const ids = new Set(results.map((r) => r.task.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const other = await tasks.submit(body, { actor: { type: 'user', id: 'someone-else' } });
      expect(other.created).toBe(true);
      expect(other.task.id).not.toBe(results[0]?.task.id);
    });

    it('cancels a task with its open subtasks, leaving finished ones; a finished task cannot be cancelled', async () => {
      const { task: root } = await tasks.submit({ taskType: 'root', agentId: 'lead' }, operator);
      const { task: a } = await tasks.submit(
        { taskType: 'a', agentId: 'dev-a', parentId: root.id },
        as('lead'),
      );
      const { task: b } = await tasks.submit(
        { taskType: 'b', agentId: 'dev-b', parentId: root.id },
        as('lead'),
      );
      const { task: leaf } = await tasks.submit(
        { taskType: 'leaf', agentId: 'micro-1', parentId: a.id },
        as('dev-a'),
      );
      await tasks.start(b.id, as('dev-b'));
      await tasks.complete(b.id, {}, as('dev-b'));
      await tasks.start(leaf.id, as('micro-1'));
      const held = await workload('micro-1');
      const cancelled = await tasks.cancel(root.id, { reason: 'scope cut' }, operator);
      expect(cancelled.status).toBe('CANCELLED');
      expect((await tasks.get(a.id)).status).toBe('CANCELLED');
      expect((await tasks.get(b.id)).status).toBe('COMPLETED');
      const leafDetail = await tasks.get(leaf.id);
      expect(leafDetail.status).toBe('CANCELLED');
      expect(leafDetail.transitions.at(-1)).toMatchObject({
        from: 'IN_PROGRESS',
        reason: `parent ${root.id} cancelled`,
      });
      expect(await audit(leaf.id)).toContain('TASK_CANCELLED');
      await expect(tasks.cancel(b.id, {}, operator)).rejects.toMatchObject({
        code: 'TASK_TRANSITION_INVALID',
        message: 'a task in COMPLETED cannot move to CANCELLED; COMPLETED is terminal',
      });
      await expect(tasks.submit({ taskType: 'late', parentId: root.id }, operator)).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      expect(await workload('micro-1')).toBe((held ?? 0) - 1);
    });

    it('serves waiting tasks P0 workspace first, then by priority, then oldest, when capacity frees up', async () => {
      const ws = (name: string, priority: 'P0' | 'P1' | 'P2') =>
        store().workspaces.insert(
          NewWorkspaceSchema.parse({ name, path: `/${name}`, priority }) as NewWorkspace,
          'api',
        );
      await ws('serve-p0', 'P0');
      await ws('serve-p2', 'P2');
      await store().agents.insert([
        NewAgentSchema.parse({
          id: 'server-1',
          name: 'server-1',
          tier: 'L2',
          parent: 'lead',
          skills: ['serve'],
        }) as NewAgent,
      ]);
      // One slot, taken; three wait: P2 critical (oldest), P0 low, P0 high (newest).
      const busy = (await tasks.submit({ taskType: 'busy', skills: ['serve'] }, operator)).task;
      expect(busy.assignee).toBe('server-1');
      const submit = async (workspace: string, priority: string) =>
        (await tasks.submit({ taskType: 'wait', skills: ['serve'], workspace, priority }, operator)).task;
      const p2Critical = await submit('serve-p2', 'CRITICAL');
      const p0Low = await submit('serve-p0', 'LOW');
      const p0High = await submit('serve-p0', 'HIGH');
      for (const t of [p2Critical, p0Low, p0High]) expect(t.status).toBe('PENDING');
      const served: string[] = [];
      for (const done of [busy, p0High, p0Low]) {
        await tasks.start(done.id, operator);
        await tasks.complete(done.id, {}, operator);
        expect(await tasks.assignPending()).toBe(1);
        const now = await Promise.all([p2Critical, p0Low, p0High].map((t) => store().tasks.get(t.id)));
        served.push(
          ...now.filter((t) => t?.status === 'ASSIGNED' && !served.includes(t.id)).map((t) => t?.id ?? ''),
        );
      }
      expect(served).toEqual([p0High.id, p0Low.id, p2Critical.id]);
    });

    it('keeps a waiting task to the tier it was submitted for when capacity frees up', async () => {
      await store().agents.insert([
        NewAgentSchema.parse({
          id: 'tier-l2',
          name: 'tier-l2',
          tier: 'L2',
          parent: 'lead',
          skills: ['tiered'],
        }) as NewAgent,
        NewAgentSchema.parse({
          id: 'tier-l3',
          name: 'tier-l3',
          tier: 'L3',
          parent: 'tier-l2',
          skills: ['tiered'],
        }) as NewAgent,
      ]);
      const busy = (await tasks.submit({ taskType: 'busy', skills: ['tiered'], tier: 'L2' }, operator)).task;
      expect(busy.assignee).toBe('tier-l2');
      const waiting = (await tasks.submit({ taskType: 'wait', skills: ['tiered'], tier: 'L2' }, operator))
        .task;
      expect(waiting).toMatchObject({ status: 'PENDING', tier: 'L2' });
      // The L3 agent is free, but the task asked for L2.
      expect(await tasks.assignPending()).toBe(0);
      await tasks.start(busy.id, operator);
      await tasks.complete(busy.id, {}, operator);
      expect(await tasks.assignPending()).toBe(1);
      expect(await store().tasks.get(waiting.id)).toMatchObject({
        status: 'ASSIGNED',
        assignee: 'tier-l2',
        tier: 'L2',
      });
    });

    it('considers Elite agents only for P0 work that is high-complexity or a milestone (or CRITICAL)', async () => {
      await store().workspaces.insert(
        NewWorkspaceSchema.parse({ name: 'elite-p0', path: '/elite-p0', priority: 'P0' }) as NewWorkspace,
        'api',
      );
      await store().workspaces.insert(
        NewWorkspaceSchema.parse({ name: 'elite-p2', path: '/elite-p2', priority: 'P2' }) as NewWorkspace,
        'api',
      );
      await store().agents.insert(
        [
          { id: 'forge-dev', tier: 'L2', parent: 'lead', skills: ['forge'], capacity: 10 },
          {
            id: 'forge-elite',
            tier: 'L2',
            parent: 'lead',
            team: 'Elite-Technical',
            skills: ['forge'],
            capacity: 10,
          },
        ].map((a) => NewAgentSchema.parse({ name: a.id, ...a }) as NewAgent),
      );
      const submit = async (body: Record<string, unknown>) =>
        (await tasks.submit({ taskType: 'forge', skills: ['forge'], ...body }, operator)).task;
      // The regular agent gets a task first, so that the Elite one (idle) wins on load when allowed.
      expect(await submit({ workspace: 'elite-p0' })).toMatchObject({ assignee: 'forge-dev' });
      const high = await submit({ workspace: 'elite-p0', complexity: 'high' });
      expect(high).toMatchObject({ assignee: 'forge-elite', complexity: 'high', milestone: false });
      expect(high.why).toMatch(/Elite/);
      expect(await submit({ workspace: 'elite-p0', milestone: true })).toMatchObject({ milestone: true });
      // Not P0: a milestone elsewhere stays with the regular agents.
      expect(await submit({ workspace: 'elite-p2', milestone: true })).toMatchObject({
        assignee: 'forge-dev',
      });
      expect((await store().tasks.get(high.id))?.complexity).toBe('high');
    });
  });
});
