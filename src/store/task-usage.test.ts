import { beforeAll, describe, expect, it } from 'vitest';
import { type NewAgent, NewAgentSchema } from '../core/agent.ts';
import type { TaskStatus } from '../core/task-states.ts';
import { forEachDialect } from './test-stores.ts';
import type { Store } from './types.ts';

const AGENTS = [
  { id: 'u-a', tier: 'L2', team: 'bmad', workspace: 'ws1' },
  { id: 'u-b', tier: 'L2', team: 'bmad', workspace: 'ws2' },
  { id: 'u-c', tier: 'L3', workspace: 'ws1' },
].map((a) => NewAgentSchema.parse({ name: a.id, ...a }) as NewAgent);

const T0 = 1_800_000_000_000;

interface Seed {
  id: string;
  assignee: string | null;
  workspace: string | null;
  status: TaskStatus;
  at: number;
  inputTokens?: number;
  outputTokens?: number;
  cost?: number;
  durationMs?: number;
  parentId?: string;
}

/** Plants tasks with their final columns (the repo stores what the service decided). */
async function seed(store: Store, tasks: readonly Seed[]): Promise<void> {
  for (const t of tasks) {
    await store.tasks.insert({
      id: t.id,
      taskType: 'work',
      priority: 'MEDIUM',
      workspace: t.workspace,
      creator: { type: 'user', id: 'op' },
      parentId: t.parentId ?? null,
      depth: t.parentId ? 1 : 0,
      requiredSkills: [],
      input: null,
      maxAttempts: 3,
      idempotencyKey: null,
      deadline: null,
      childPolicy: null,
      complexity: 'normal',
      milestone: false,
      tier: null,
      createdAt: new Date(t.at),
    });
    await store.tasks.update(t.id, {
      status: t.status,
      assignee: t.assignee,
      inputTokens: t.inputTokens ?? 0,
      outputTokens: t.outputTokens ?? 0,
      cost: t.cost ?? 0,
      durationMs: t.durationMs ?? null,
      updatedAt: new Date(t.at),
    });
  }
}

describe('TaskRepo usage, spent, activeAgents', () => {
  forEachDialect(({ store }) => {
    beforeAll(async () => {
      await store().agents.insert(AGENTS);
      await seed(store(), [
        // A parent that settled from its subtasks: its own usage only (none) counts.
        { id: 't-parent', assignee: 'u-a', workspace: 'ws1', status: 'COMPLETED', at: T0, durationMs: 5000 },
        {
          id: 't-1',
          assignee: 'u-a',
          workspace: 'ws1',
          status: 'COMPLETED',
          at: T0 + 1,
          inputTokens: 100,
          outputTokens: 50,
          cost: 1.25,
          durationMs: 1000,
          parentId: 't-parent',
        },
        {
          id: 't-2',
          assignee: 'u-b',
          workspace: 'ws2',
          status: 'FAILED',
          at: T0 + 2,
          inputTokens: 10,
          cost: 0.5,
          durationMs: 3000,
          parentId: 't-parent',
        },
        {
          id: 't-3',
          assignee: 'u-c',
          workspace: 'ws1',
          status: 'COMPLETED',
          at: T0 + 10_000,
          outputTokens: 7,
          cost: 0.25,
          durationMs: 2000,
        },
        { id: 't-4', assignee: null, workspace: null, status: 'PENDING', at: T0 + 20_000 },
      ]);
    });

    it('rolls up per agent: counts, outcomes, tokens, cost, total and average duration', async () => {
      expect(await store().tasks.usage({ groupBy: 'agent' })).toEqual([
        {
          key: 'u-a',
          tasks: 2,
          completed: 2,
          failed: 0,
          inputTokens: 100,
          outputTokens: 50,
          cost: 1.25,
          durationMs: 6000,
          avgDurationMs: 3000,
        },
        {
          key: 'u-b',
          tasks: 1,
          completed: 0,
          failed: 1,
          inputTokens: 10,
          outputTokens: 0,
          cost: 0.5,
          durationMs: 3000,
          avgDurationMs: 3000,
        },
        {
          key: 'u-c',
          tasks: 1,
          completed: 1,
          failed: 0,
          inputTokens: 0,
          outputTokens: 7,
          cost: 0.25,
          durationMs: 2000,
          avgDurationMs: 2000,
        },
        {
          key: null,
          tasks: 1,
          completed: 0,
          failed: 0,
          inputTokens: 0,
          outputTokens: 0,
          cost: 0,
          durationMs: 0,
          avgDurationMs: null,
        },
      ]);
    });

    it('rolls up per team (through the assignee) and per workspace, filtered by time and workspace', async () => {
      const teams = await store().tasks.usage({ groupBy: 'team' });
      expect(teams.map((g) => [g.key, g.tasks, g.cost])).toEqual([
        ['bmad', 3, 1.75],
        [null, 2, 0.25],
      ]);
      const workspaces = await store().tasks.usage({ groupBy: 'workspace' });
      expect(workspaces.map((g) => [g.key, g.tasks, g.inputTokens + g.outputTokens])).toEqual([
        ['ws1', 3, 157],
        ['ws2', 1, 10],
        [null, 1, 0],
      ]);
      // [from, to): created at T0+1 up to (not including) T0+10000.
      const window = await store().tasks.usage({
        groupBy: 'agent',
        from: new Date(T0 + 1),
        to: new Date(T0 + 10_000),
      });
      expect(window.map((g) => [g.key, g.tasks])).toEqual([
        ['u-a', 1],
        ['u-b', 1],
      ]);
      const ws1 = await store().tasks.usage({ groupBy: 'team', workspace: 'ws1' });
      expect(ws1.map((g) => [g.key, g.tasks])).toEqual([
        ['bmad', 2],
        [null, 1],
      ]);
      expect(await store().tasks.usage({ groupBy: 'agent', workspace: 'nowhere' })).toEqual([]);
    });

    it('spent sums cost and tokens of an assignee or a workspace; activeAgents counts agents with workload', async () => {
      expect(await store().tasks.spent({ assignee: 'u-a' })).toEqual({ cost: 1.25, tokens: 150 });
      expect(await store().tasks.spent({ workspace: 'ws1' })).toEqual({ cost: 1.5, tokens: 157 });
      expect(await store().tasks.spent({ assignee: 'nobody' })).toEqual({ cost: 0, tokens: 0 });
      expect(await store().tasks.activeAgents()).toEqual([]);
      await store().tasks.adjustWorkload('u-a', 2);
      await store().tasks.adjustWorkload('u-b', 1);
      await store().tasks.adjustWorkload('u-c', 1);
      const active = await store().tasks.activeAgents();
      expect(
        active.sort((a, b) => `${a.tier}${a.workspace}`.localeCompare(`${b.tier}${b.workspace}`)),
      ).toEqual([
        { tier: 'L2', workspace: 'ws1', count: 1 },
        { tier: 'L2', workspace: 'ws2', count: 1 },
        { tier: 'L3', workspace: 'ws1', count: 1 },
      ]);
    });
  });
});
