import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

/**
 * `GET /api/usage` on a real Ziggie (local mode: loopback requests act as the admin), with tasks
 * completed over REST with their usage; and the budgets of ziggie.yaml stopping assignments.
 */
describe('usage REST API and budgets', () => {
  let harness: Harness;
  let mid = '';
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${harness.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const ok = async (method: string, path: string, body?: unknown) => {
    const response = await call(method, path, body);
    expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
    return response.body;
  };
  const submit = (body: Record<string, unknown>) => ok('POST', '/api/tasks', { taskType: 'work', ...body });
  const complete = async (id: string, usage: Record<string, number>) => {
    await ok('POST', `/api/tasks/${id}/start`, {});
    return ok('POST', `/api/tasks/${id}/complete`, { output: 'done', usage });
  };
  const usage = async (query: string) =>
    (await ok('GET', `/api/usage?${query}`)).groups as Array<Record<string, unknown>>;

  beforeAll(async () => {
    harness = await startZiggie({
      workspaces: { studio: { path: '/studio', priority: 'P0' }, lab: { path: '/lab' } },
      orchestrator: {
        budgets: { agents: { 'dev-b': { maxCost: 0.25 } }, workspaces: { studio: { maxTokens: 450 } } },
      },
    });
    await ok('POST', '/api/agents/import', {
      agents: [
        { id: 'lead', name: 'Lead', tier: 'L1', team: 'elite' },
        {
          id: 'dev-a',
          name: 'A',
          tier: 'L2',
          parent: 'lead',
          team: 'bmad',
          workspace: 'studio',
          skills: ['python'],
        },
        {
          id: 'dev-b',
          name: 'B',
          tier: 'L2',
          parent: 'lead',
          team: 'bmad',
          workspace: 'lab',
          skills: ['go'],
        },
        { id: 'solo', name: 'Solo', tier: 'L2', skills: ['rust'] },
      ],
    });
    // Before `mid`: dev-a 150 tokens in studio, dev-b one completed (0.25) and one failed for good in lab.
    const a1 = await submit({ agentId: 'dev-a', workspace: 'studio' });
    const b1 = await submit({ agentId: 'dev-b', workspace: 'lab' });
    const b2 = await submit({ agentId: 'dev-b', workspace: 'lab', maxAttempts: 1 });
    await complete(a1.id, { inputTokens: 100, outputTokens: 50, cost: 0.5 });
    await complete(b1.id, { inputTokens: 10, outputTokens: 5, cost: 0.25 });
    await ok('POST', `/api/tasks/${b2.id}/start`, {});
    expect((await ok('POST', `/api/tasks/${b2.id}/fail`, { error: { message: 'broke' } })).status).toBe(
      'FAILED',
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    mid = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // After `mid`: solo without a workspace, dev-a again in studio (reaching studio's 450 tokens).
    await complete((await submit({ agentId: 'solo' })).id, { inputTokens: 1, outputTokens: 2, cost: 0.01 });
    await complete((await submit({ skills: ['python'], workspace: 'studio' })).id, {
      inputTokens: 200,
      outputTokens: 100,
      cost: 1.5,
    });
  }, 60_000);

  afterAll(async () => {
    await harness?.stop();
  });

  it('rolls up per agent (the default): tasks, outcomes, tokens, cost, total and average duration', async () => {
    const report = await ok('GET', '/api/usage');
    expect(report).toMatchObject({ groupBy: 'agent', from: null, to: null, workspace: null });
    const groups = report.groups as Array<Record<string, number | string | null>>;
    expect(groups.map((g) => g.key)).toEqual(['dev-a', 'dev-b', 'solo']);
    expect(groups[0]).toMatchObject({
      tasks: 2,
      completed: 2,
      failed: 0,
      inputTokens: 300,
      outputTokens: 150,
      cost: 2,
    });
    expect(groups[1]).toMatchObject({
      tasks: 2,
      completed: 1,
      failed: 1,
      inputTokens: 10,
      outputTokens: 5,
      cost: 0.25,
    });
    expect(groups[2]).toMatchObject({
      tasks: 1,
      completed: 1,
      failed: 0,
      inputTokens: 1,
      outputTokens: 2,
      cost: 0.01,
    });
    for (const g of groups) {
      expect(g.durationMs).toBeGreaterThanOrEqual(0);
      expect(g.avgDurationMs).toBeCloseTo(Number(g.durationMs) / Number(g.tasks), 6);
    }
  });

  it('rolls up per team and per workspace; tasks without one are the null group', async () => {
    const teams = await usage('groupBy=team');
    expect(teams.map((g) => [g.key, g.tasks, g.cost])).toEqual([
      ['bmad', 4, 2.25],
      [null, 1, 0.01],
    ]);
    const workspaces = await usage('groupBy=workspace');
    expect(
      workspaces.map((g) => [g.key, g.tasks, g.completed, g.failed, g.inputTokens, g.outputTokens]),
    ).toEqual([
      ['lab', 2, 1, 1, 10, 5],
      ['studio', 2, 2, 0, 300, 150],
      [null, 1, 1, 0, 1, 2],
    ]);
  });

  it('filters by creation time [from, to) and by workspace', async () => {
    const after = await ok('GET', `/api/usage?from=${encodeURIComponent(mid)}`);
    expect(after.from).toBe(mid);
    expect(after.groups.map((g: Record<string, unknown>) => [g.key, g.tasks, g.cost])).toEqual([
      ['dev-a', 1, 1.5],
      ['solo', 1, 0.01],
    ]);
    const before = await usage(`to=${encodeURIComponent(mid)}`);
    expect(before.map((g) => [g.key, g.tasks, g.cost])).toEqual([
      ['dev-a', 1, 0.5],
      ['dev-b', 2, 0.25],
    ]);
    expect(await usage(`to=${encodeURIComponent(mid)}&from=2020-01-01`)).toHaveLength(2);
    expect(await usage('from=2999-01-01')).toEqual([]);
    const lab = await usage('groupBy=team&workspace=lab');
    expect(lab.map((g) => [g.key, g.tasks])).toEqual([['bmad', 2]]);
  });

  it('refuses a bad groupBy naming the allowed values, a bad time, and from after to', async () => {
    const bad = await call('GET', '/api/usage?groupBy=tier');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.message).toMatch(/^groupBy: .*"agent".*"team".*"workspace"/);
    const time = await call('GET', '/api/usage?from=yesterday');
    expect(time.status).toBe(400);
    expect(time.body.error.message).toMatch(/^from: /);
    const order = await call('GET', '/api/usage?from=2026-02-01&to=2026-01-01');
    expect(order.status).toBe(400);
    expect(order.body.error.message).toBe('to: expected a time after `from`');
    const unknown = await call('GET', '/api/usage?by=agent');
    expect(unknown.status).toBe(400);
  });

  it('budgets from ziggie.yaml stop new assignments and say so on the task', async () => {
    // dev-b spent 0.25 of 0.25: by skills the task waits, named it is refused.
    const bySkills = await submit({ skills: ['go'], workspace: 'lab' });
    expect(bySkills).toMatchObject({
      status: 'PENDING',
      assignee: null,
      why: 'agent dev-b used its budget: cost 0.25 of 0.25 USD',
    });
    const named = await call('POST', '/api/tasks', { taskType: 'work', agentId: 'dev-b' });
    expect(named.status).toBe(409);
    expect(named.body.error).toMatchObject({
      code: 'BUDGET_EXCEEDED',
      message: 'agent dev-b used its budget: cost 0.25 of 0.25 USD',
    });
    // studio used 450 of 450 tokens: dev-a takes no studio task, but still one without a workspace.
    expect(await submit({ skills: ['python'], workspace: 'studio' })).toMatchObject({
      status: 'PENDING',
      why: 'workspace studio used its budget: tokens 450 of 450',
    });
    expect(await submit({ agentId: 'dev-a' })).toMatchObject({ status: 'ASSIGNED', assignee: 'dev-a' });
  });
});
