import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

/** `/api/agents…` on a real Ziggie, loaded with examples/agents.yaml over REST. */
describe('agents REST API', () => {
  let harness: Harness;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${harness.baseUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    harness = await startZiggie({
      workspaces: { ziggie: { path: 'C:/Ziggie', portRange: [3000, 3099] }, fitflow: { path: 'C:/FitFlow' } },
    });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('imports examples/agents.yaml whole: POST /api/agents/import {agents} → {imported}', async () => {
    const document = parse(readFileSync('examples/agents.yaml', 'utf8'));
    const answer = await call('POST', '/api/agents/import', document);
    expect(answer).toEqual({ status: 200, body: { imported: 1840 } });
    const fitflow = await call('GET', '/api/workspaces/fitflow');
    expect(fitflow.body.agents).toEqual({ total: 365, byTier: { L1: 5, L2: 40, L3: 320 } });
  });

  it('lists with filters and a cursor, as {items, nextCursor}', async () => {
    const first = await call('GET', '/api/agents?tier=L1&team=Elite-Art&limit=3');
    expect(first.status).toBe(200);
    expect(first.body.items.map((a: { id: string }) => a.id)).toEqual([
      'elite.artemis',
      'elite.gaia',
      'elite.leonidas',
    ]);
    const second = await call(
      'GET',
      `/api/agents?tier=L1&team=Elite-Art&limit=3&cursor=${first.body.nextCursor}`,
    );
    expect(second.body).toEqual({
      items: [expect.objectContaining({ id: 'elite.vulcan' })],
      nextCursor: null,
    });

    const bySkill = await call('GET', '/api/agents?skill=playwright');
    expect(bySkill.body.items.map((a: { id: string }) => a.id)).toContain('bmad.e2e');
    const byParent = await call('GET', '/api/agents?parent=fitflow.qa&limit=100');
    expect(byParent.body.items).toHaveLength(8);
    const byWorkspace = await call('GET', '/api/agents?workspace=meowping-nft&tier=L1');
    expect(byWorkspace.body.items.map((a: { name: string }) => a.name)).toEqual([
      'Blockchain Lead',
      'Smart Contract Dev',
    ]);
    const byStatus = await call('GET', '/api/agents?status=idle&limit=1');
    expect(byStatus.body.items[0]).toEqual({
      id: expect.any(String),
      name: expect.any(String),
      tier: expect.stringMatching(/^L[0-3]$/),
      team: null,
      workspace: expect.any(String),
      parent: expect.any(String),
      skills: expect.any(Array),
      specialization: expect.any(String),
      status: 'idle',
      capacity: expect.any(Number),
      workload: 0,
      qualityScore: 100,
      tasksCompleted: 0,
      avgCompletionMs: null,
      executor: null,
      metadata: {},
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  it('creates, shows, updates and disables an agent; each change is in the audit log', async () => {
    const created = await call('POST', '/api/agents', {
      id: 'fitflow.qa.l2-1.l3-9',
      name: 'Flaky test hunter',
      tier: 'L3',
      parent: 'fitflow.qa.l2-1',
      workspace: 'fitflow',
      skills: ['e2e_testing'],
      executor: { type: 'shell', command: 'claude' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'fitflow.qa.l2-1.l3-9',
      executor: { type: 'shell', command: 'claude' },
    });
    const updated = await call('PATCH', '/api/agents/fitflow.qa.l2-1.l3-9', {
      capacity: 2,
      skills: ['e2e_testing', 'flake_triage'],
    });
    expect(updated.body).toMatchObject({ capacity: 2, skills: ['e2e_testing', 'flake_triage'] });
    const disabled = await call('PATCH', '/api/agents/fitflow.qa.l2-1.l3-9', { status: 'disabled' });
    expect(disabled.body.status).toBe('disabled');
    expect((await call('GET', '/api/agents/fitflow.qa.l2-1.l3-9')).body.status).toBe('disabled');
    const audit = await call('GET', '/api/audit?entityType=agent&entityId=fitflow.qa.l2-1.l3-9');
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual([
      'AGENT_DEACTIVATED',
      'AGENT_CONFIG_UPDATED',
      'AGENT_CREATED',
    ]);
  });

  it('serves the tree: under an agent, for a workspace, to a depth', async () => {
    const lead = await call('GET', '/api/agents/tree?root=fitflow.qa&depth=1');
    expect(lead.status).toBe(200);
    expect(lead.body.total).toBe(9);
    expect(lead.body.roots[0]).toMatchObject({ id: 'fitflow.qa', tier: 'L1', children: expect.any(Array) });
    expect(lead.body.roots[0].children[0]).toMatchObject({ id: 'fitflow.qa.l2-1', tier: 'L2', children: [] });
    const all = await call('GET', '/api/agents/tree');
    expect(all.body.roots.map((r: { id: string }) => r.id)).toEqual(['ziggie']);
    expect(all.body.total).toBe(1841);
    const workspace = await call('GET', '/api/agents/tree?workspace=simstudio');
    expect(workspace.body.roots.map((r: { name: string }) => r.name)).toEqual([
      'Data Analyst',
      'Simulation Lead',
      'Visualization',
    ]);
  });

  it.each([
    [
      'POST',
      '/api/agents',
      { id: 'x1', name: 'X', tier: 'L4' },
      400,
      'AGENT_TIER_UNKNOWN',
      'unknown tier "L4"',
    ],
    [
      'POST',
      '/api/agents',
      { id: 'ziggie', name: 'Again', tier: 'L0' },
      409,
      'AGENT_EXISTS',
      'agent "ziggie" already exists',
    ],
    [
      'POST',
      '/api/agents',
      { id: 'x1', name: 'X', tier: 'L3', parent: 'nobody' },
      400,
      'AGENT_PARENT_NOT_FOUND',
      '"nobody"',
    ],
    [
      'POST',
      '/api/agents',
      { id: 'x1', name: 'X', tier: 'L1', parent: 'fitflow.qa.l2-1' },
      400,
      'AGENT_PARENT_TIER_INVALID',
      'a lower tier',
    ],
    [
      'PATCH',
      '/api/agents/fitflow.qa',
      { parent: 'fitflow.qa.l2-1.l3-1' },
      409,
      'AGENT_HIERARCHY_CYCLE',
      'fitflow.qa → fitflow.qa.l2-1.l3-1 → fitflow.qa.l2-1 → fitflow.qa',
    ],
    ['PATCH', '/api/agents/fitflow.qa', { tier: 'L2' }, 400, 'AGENT_PARENT_TIER_INVALID', 'the same tier'],
    ['PATCH', '/api/agents/nobody', { name: 'x' }, 404, 'AGENT_NOT_FOUND', '"nobody"'],
    ['PATCH', '/api/agents/ziggie', { id: 'renamed' }, 400, 'VALIDATION_FAILED', 'id'],
    ['GET', '/api/agents/nobody', undefined, 404, 'AGENT_NOT_FOUND', '"nobody"'],
    ['POST', '/api/agents', { id: 'bad id', name: 'X', tier: 'L1' }, 400, 'VALIDATION_FAILED', 'id'],
    [
      'POST',
      '/api/agents',
      { id: 'connect', name: 'X', tier: 'L1' },
      400,
      'VALIDATION_FAILED',
      'is reserved',
    ],
    [
      'POST',
      '/api/agents',
      { id: 'tree', name: 'X', tier: 'L1' },
      400,
      'VALIDATION_FAILED',
      '/api/agents/tree',
    ],
    ['POST', '/api/agents', { id: 'x1', tier: 'L1' }, 400, 'VALIDATION_FAILED', 'name'],
    [
      'POST',
      '/api/agents',
      { id: 'x1', name: 'X', tier: 'L1', status: 'asleep' },
      400,
      'VALIDATION_FAILED',
      'status',
    ],
    ['POST', '/api/agents/import', { agents: 'all of them' }, 400, 'VALIDATION_FAILED', 'agents'],
    [
      'POST',
      '/api/agents/import',
      { agents: [{ id: 'i1', tier: 'L1' }] },
      400,
      'VALIDATION_FAILED',
      'agents.0.name',
    ],
    [
      'POST',
      '/api/agents/import',
      {
        agents: [
          { id: 'i1', name: 'I', tier: 'L1', parent: 'i2' },
          { id: 'i2', name: 'J', tier: 'L2', parent: 'i1' },
        ],
      },
      409,
      'AGENT_HIERARCHY_CYCLE',
      'i1 → i2 → i1',
    ],
    ['GET', '/api/agents?status=asleep', undefined, 400, 'VALIDATION_FAILED', 'status'],
    ['GET', '/api/agents?limit=5000', undefined, 400, 'VALIDATION_FAILED', 'limit'],
    ['GET', '/api/agents?cursor=abc', undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['GET', '/api/agents/tree?root=nobody', undefined, 404, 'AGENT_NOT_FOUND', '"nobody"'],
  ])('%s %s %j → %i %s', async (method, path, body, status, code, mention) => {
    const answer = await call(method, path, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(answer.body.error.message).toContain(mention);
  });

  it('an import with one bad agent writes none of them', async () => {
    const agents = [
      ...Array.from({ length: 100 }, (_, i) => ({
        id: `batch.${i}`,
        name: `B${i}`,
        tier: 'L3',
        parent: 'fitflow.qa.l2-2',
      })),
      { id: 'batch.bad', name: 'Bad', tier: 'L3', parent: 'batch.7' },
    ];
    const answer = await call('POST', '/api/agents/import', { agents });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: 'AGENT_PARENT_TIER_INVALID',
      details: { agent: 'batch.bad' },
    });
    expect((await call('GET', '/api/agents?parent=fitflow.qa.l2-2&limit=100')).body.items).toHaveLength(8);
  });
});
