import { beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../core/access.ts';
import { type NewAgent, NewAgentSchema } from '../core/agent.ts';
import { forEachDialect } from '../store/test-stores.ts';
import { type Budgets, budgetCheck, overBudget } from './budgets.ts';
import { type TaskContext, TaskService } from './task-service.ts';

const operator: TaskContext = { actor: { type: 'user', id: 'op' } };
const as = (id: string): TaskContext => ({ actor: { type: 'agent', id } as Actor });

/** dev-a spends by cost, dev-c by tokens (both with a budget), dev-b works in ws-b (a workspace budget). */
const AGENTS = [
  { id: 'lead', tier: 'L1', skills: ['planning'] },
  { id: 'dev-a', tier: 'L2', parent: 'lead', workspace: 'ws-a', skills: ['python'], capacity: 5 },
  { id: 'dev-b', tier: 'L2', parent: 'lead', workspace: 'ws-b', skills: ['go'], capacity: 5 },
  { id: 'dev-c', tier: 'L2', parent: 'lead', workspace: 'ws-a', skills: ['rust'], capacity: 5 },
  // Both know java; dev-d (the better match: also kotlin) has spent its budget, dev-e has not.
  { id: 'dev-d', tier: 'L2', parent: 'lead', workspace: 'ws-a', skills: ['java', 'kotlin'], capacity: 5 },
  { id: 'dev-e', tier: 'L2', parent: 'lead', workspace: 'ws-a', skills: ['java'], capacity: 5 },
].map((a) => NewAgentSchema.parse({ name: a.id, ...a }) as NewAgent);

const BUDGETS: Budgets = {
  agents: { 'dev-a': { maxCost: 10 }, 'dev-c': { maxTokens: 1000 }, 'dev-d': { maxCost: 1 } },
  workspaces: { 'ws-b': { maxTokens: 500 } },
};

describe('budgets', () => {
  it('a limit is reached at or over it, cost first; no budget set means no hook', () => {
    expect(overBudget({ maxCost: 10 }, { cost: 9.99, tokens: 1e9 })).toBeUndefined();
    expect(overBudget({ maxCost: 10 }, { cost: 10, tokens: 0 })).toBe('cost 10.00 of 10.00 USD');
    expect(overBudget({ maxTokens: 100 }, { cost: 50, tokens: 100 })).toBe('tokens 100 of 100');
    expect(overBudget({ maxCost: 1, maxTokens: 100 }, { cost: 2, tokens: 200 })).toBe(
      'cost 2.00 of 1.00 USD',
    );
    expect(overBudget({}, { cost: 1e9, tokens: 1e9 })).toBeUndefined();
    expect(budgetCheck({ agents: {}, workspaces: {} })).toBeUndefined();
    expect(budgetCheck({ agents: { x: {} }, workspaces: { y: {} } })).toBeUndefined();
    expect(budgetCheck(BUDGETS)).toBeTypeOf('function');
  });

  forEachDialect(({ store }) => {
    let tasks: TaskService;
    /** Runs a task on `agent` to COMPLETED with this usage (named, so it needs the agent under budget). */
    const spend = async (
      agent: string,
      workspace: string | null,
      usage: { inputTokens?: number; outputTokens?: number; cost?: number },
    ) => {
      const { task } = await tasks.submit(
        { taskType: 'work', agentId: agent, ...(workspace ? { workspace } : {}) },
        operator,
      );
      await tasks.start(task.id, as(agent));
      return tasks.complete(task.id, { output: 'done', usage }, as(agent));
    };

    beforeAll(async () => {
      tasks = new TaskService(store(), { blocked: budgetCheck(BUDGETS) });
      await store().agents.insert(AGENTS);
    });

    it('by skills, the best match over its budget is passed over for the next best', async () => {
      await spend('dev-d', 'ws-a', { cost: 1 });
      const { task } = await tasks.submit(
        { taskType: 'jvm', skills: ['java', 'kotlin'], workspace: 'ws-a' },
        operator,
      );
      expect(task).toMatchObject({ status: 'ASSIGNED', assignee: 'dev-e' });
    });

    it('an agent over its cost budget gets no new task by skills: it stays PENDING and why names the budget', async () => {
      await spend('dev-a', 'ws-a', { cost: 6.01, inputTokens: 10 });
      // Under budget still (6.01 of 10): assigned.
      const before = await tasks.submit({ taskType: 'py', skills: ['python'], workspace: 'ws-a' }, operator);
      expect(before.task).toMatchObject({ status: 'ASSIGNED', assignee: 'dev-a' });
      await tasks.start(before.task.id, as('dev-a'));
      await tasks.complete(before.task.id, { usage: { cost: 4.01 } }, as('dev-a'));

      const { task } = await tasks.submit(
        { taskType: 'py', skills: ['python'], workspace: 'ws-a' },
        operator,
      );
      expect(task).toMatchObject({
        status: 'PENDING',
        assignee: null,
        why: 'agent dev-a used its budget: cost 10.02 of 10.00 USD',
      });
      // Assigning it later says the same, and it still waits.
      const again = await tasks.assign(task.id, { skills: ['python'] }, operator);
      expect(again).toMatchObject({
        status: 'PENDING',
        why: 'agent dev-a used its budget: cost 10.02 of 10.00 USD',
      });
      expect((await store().tasks.transitions(task.id)).map((t) => t.to)).toEqual(['PENDING']);
    });

    it('a named assignment to an agent over its budget is refused with BUDGET_EXCEEDED and creates nothing', async () => {
      const before = (await store().tasks.list({ assignee: 'dev-a' }, { limit: 100 })).items.length;
      await expect(
        tasks.submit({ taskType: 'py', agentId: 'dev-a', idempotencyKey: 'named-over' }, operator),
      ).rejects.toMatchObject({
        code: 'BUDGET_EXCEEDED',
        message: 'agent dev-a used its budget: cost 10.02 of 10.00 USD',
        details: { agent: 'dev-a' },
      });
      expect(await store().tasks.findByIdempotencyKey(operator.actor, 'named-over')).toBeUndefined();
      expect((await store().tasks.list({ assignee: 'dev-a' }, { limit: 100 })).items.length).toBe(before);
      // A PENDING task named to it later is refused the same way and stays PENDING.
      const { task } = await tasks.submit({ taskType: 'py' }, operator);
      await expect(tasks.assign(task.id, { agentId: 'dev-a' }, operator)).rejects.toMatchObject({
        code: 'BUDGET_EXCEEDED',
      });
      expect((await store().tasks.get(task.id))?.status).toBe('PENDING');
    });

    it('a workspace over its budget stops assignments of its tasks, by skills and named; the agent works elsewhere', async () => {
      await spend('dev-b', 'ws-b', { inputTokens: 400, outputTokens: 200 });
      const bySkills = await tasks.submit({ taskType: 'go', skills: ['go'], workspace: 'ws-b' }, operator);
      expect(bySkills.task).toMatchObject({
        status: 'PENDING',
        why: 'workspace ws-b used its budget: tokens 600 of 500',
      });
      await expect(
        tasks.submit({ taskType: 'go', agentId: 'dev-b', workspace: 'ws-b' }, operator),
      ).rejects.toMatchObject({
        code: 'BUDGET_EXCEEDED',
        message: 'workspace ws-b used its budget: tokens 600 of 500',
      });
      // dev-b has no budget of its own: a task outside ws-b still goes to it.
      const elsewhere = await tasks.submit({ taskType: 'go', agentId: 'dev-b' }, operator);
      expect(elsewhere.task).toMatchObject({ status: 'ASSIGNED', assignee: 'dev-b' });
    });

    it('an agent under its budget keeps getting work, until the tokens reach it', async () => {
      await spend('dev-c', 'ws-a', { inputTokens: 500, outputTokens: 499 });
      const under = await tasks.submit({ taskType: 'rs', skills: ['rust'], workspace: 'ws-a' }, operator);
      expect(under.task).toMatchObject({ status: 'ASSIGNED', assignee: 'dev-c' });
      expect(under.task.why).toMatch(/^dev-c: /);
      const named = await tasks.submit({ taskType: 'rs', agentId: 'dev-c' }, operator);
      expect(named.task).toMatchObject({ status: 'ASSIGNED', assignee: 'dev-c' });
      await tasks.start(named.task.id, as('dev-c'));
      await tasks.complete(named.task.id, { usage: { outputTokens: 1 } }, as('dev-c'));
      const over = await tasks.submit({ taskType: 'rs', skills: ['rust'], workspace: 'ws-a' }, operator);
      expect(over.task).toMatchObject({
        status: 'PENDING',
        why: 'agent dev-c used its budget: tokens 1000 of 1000',
      });
    });
  });
});
