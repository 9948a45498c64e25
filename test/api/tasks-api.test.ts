import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

const BOOTSTRAP = 'tasks-api-bootstrap-token-0123456789';

/** `/api/tasks…` and `/api/approvals` on a real Ziggie, with an admin and an agent's API key. */
describe('tasks REST API', () => {
  let harness: Harness;
  let agentKey = '';
  const call = async (method: string, path: string, body?: unknown, token = BOOTSTRAP) => {
    const response = await fetch(`${harness.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    const previous = process.env.ZIGGIE_BOOTSTRAP_TOKEN;
    process.env.ZIGGIE_BOOTSTRAP_TOKEN = BOOTSTRAP;
    try {
      harness = await startZiggie({
        auth: { mode: 'required', rateLimits: { enabled: false } },
        workspaces: { studio: { path: '/studio', priority: 'P0' } },
      });
    } finally {
      if (previous === undefined) delete process.env.ZIGGIE_BOOTSTRAP_TOKEN;
      else process.env.ZIGGIE_BOOTSTRAP_TOKEN = previous;
    }
    const agents = [
      { id: 'lead', name: 'Lead', tier: 'L1', workspace: 'studio' },
      {
        id: 'dev',
        name: 'Dev',
        tier: 'L2',
        parent: 'lead',
        workspace: 'studio',
        skills: ['python'],
        capacity: 5,
      },
      { id: 'micro', name: 'Micro', tier: 'L3', parent: 'dev', workspace: 'studio', skills: ['python'] },
    ];
    expect((await call('POST', '/api/agents/import', { agents })).status).toBe(200);
    const key = await call('POST', '/api/keys', { name: 'dev-key', agentId: 'dev', tier: 'L2' });
    expect(key.status, JSON.stringify(key.body)).toBe(201);
    agentKey = key.body.key;
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('runs a task through its lifecycle over REST: submit, start, review, reject, approve', async () => {
    const submitted = await call('POST', '/api/tasks', {
      taskType: 'codegen',
      input: { spec: 'api' },
      skills: ['python'],
      workspace: 'studio',
      priority: 'HIGH',
      deadline: '2031-01-01T00:00:00Z',
    });
    expect(submitted.status).toBe(201);
    const task = submitted.body;
    expect(task).toMatchObject({
      id: expect.stringMatching(/^tsk_/),
      status: 'ASSIGNED',
      assignee: 'dev',
      why: 'dev: 1/1 required skills, load 0/5',
      creator: { type: 'user' },
      deadline: '2031-01-01T00:00:00.000Z',
    });
    // The agent works on it with its own key.
    expect((await call('POST', `/api/tasks/${task.id}/start`, {}, agentKey)).body.status).toBe('IN_PROGRESS');
    const review = await call('POST', `/api/tasks/${task.id}/review`, { output: { files: 3 } }, agentKey);
    expect(review.body.status).toBe('REVIEW_REQUESTED');
    const inbox = await call('GET', '/api/approvals?workspace=studio');
    expect(inbox.body.items.map((t: { id: string }) => t.id)).toEqual([task.id]);
    const rejected = await call('POST', `/api/tasks/${task.id}/reject`, { feedback: 'add tests' });
    expect(rejected.body).toMatchObject({ status: 'ASSIGNED', rejections: 1, reviewFeedback: 'add tests' });
    await call('POST', `/api/tasks/${task.id}/start`, {}, agentKey);
    await call('POST', `/api/tasks/${task.id}/review`, { output: { files: 4 } }, agentKey);
    const approved = await call('POST', `/api/tasks/${task.id}/approve`, {});
    expect(approved).toMatchObject({ status: 200, body: { status: 'COMPLETED', output: { files: 4 } } });

    const shown = await call('GET', `/api/tasks/${task.id}`);
    expect(shown.body.transitions).toHaveLength(10);
    expect(shown.body.transitions[0]).toEqual({
      taskId: task.id,
      from: null,
      to: 'PENDING',
      actor: { type: 'user', id: expect.any(String) },
      reason: null,
      at: expect.any(String),
    });
    const audit = await call('GET', `/api/audit?entityType=task&entityId=${task.id}&limit=100`);
    expect(audit.body.items).toHaveLength(10);
  });

  it('answers the same task for a repeated idempotency key: 201 then 200', async () => {
    const body = { taskType: 'once', idempotencyKey: 'abc-1' };
    const first = await call('POST', '/api/tasks', body);
    const again = await call('POST', '/api/tasks', body);
    expect(first.status).toBe(201);
    expect(again).toMatchObject({ status: 200, body: { id: first.body.id, status: 'PENDING' } });
  });

  it('lists with filters and a cursor as {items, nextCursor}', async () => {
    for (let i = 0; i < 3; i++) await call('POST', '/api/tasks', { taskType: 'bulk', agentId: 'micro' });
    const page = await call('GET', '/api/tasks?assignee=micro&status=ASSIGNED&limit=2');
    expect(page.body.items).toHaveLength(2);
    const rest = await call(
      'GET',
      `/api/tasks?assignee=micro&status=ASSIGNED&limit=2&cursor=${page.body.nextCursor}`,
    );
    expect(rest.body).toMatchObject({
      items: [expect.objectContaining({ assignee: 'micro' })],
      nextCursor: null,
    });
    expect((await call('GET', '/api/tasks?status=DONE')).body.error.code).toBe('VALIDATION_FAILED');
  });

  it('submits a batch all or none: in order, idempotent items answered, a refused item names its index', async () => {
    const ok = await call('POST', '/api/tasks/batch', {
      tasks: [
        { taskType: 'batch-a', agentId: 'micro' },
        { taskType: 'batch-b', skills: ['python'] },
        { taskType: 'once', idempotencyKey: 'abc-1' },
      ],
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.tasks.map((t: { taskType: string }) => t.taskType)).toEqual([
      'batch-a',
      'batch-b',
      'once',
    ]);
    expect(ok.body.tasks[0]).toMatchObject({ status: 'ASSIGNED', assignee: 'micro' });
    expect(ok.body.created).toBe(2);

    const before = (await call('GET', '/api/tasks?limit=1000')).body.items.length;
    const refused = await call('POST', '/api/tasks/batch', {
      tasks: [
        { taskType: 'batch-c', agentId: 'micro' },
        { taskType: 'batch-d', agentId: 'nobody' },
      ],
    });
    expect(refused).toMatchObject({
      status: 404,
      body: { error: { code: 'AGENT_NOT_FOUND', details: { index: 1 } } },
    });
    expect(refused.body.error.message).toMatch(/^tasks\[1\]: no agent with id "nobody"/);
    const invalid = await call('POST', '/api/tasks/batch', { tasks: [{ taskType: 'x' }, { taskType: '' }] });
    expect(invalid.status).toBe(400);
    expect(JSON.stringify(invalid.body)).toContain('tasks.1.taskType');
    expect((await call('POST', '/api/tasks/batch', { tasks: [] })).status).toBe(400);
    // Nothing of the refused batches was written.
    expect((await call('GET', '/api/tasks?limit=1000')).body.items.length).toBe(before);
  });

  it('refuses bad input with its code: unknown agent, delegation up or sideways, illegal transitions, validation', async () => {
    const cases: Array<[string, string, unknown, string, number, string?]> = [
      ['POST', '/api/tasks', { taskType: 't', agentId: 'ghost' }, 'AGENT_NOT_FOUND', 404],
      ['POST', '/api/tasks', { input: 1 }, 'VALIDATION_FAILED', 400],
      ['POST', '/api/tasks', { taskType: 't', priority: 'URGENT' }, 'VALIDATION_FAILED', 400],
      ['POST', '/api/tasks', { taskType: 't', parentId: 'tsk_nope' }, 'TASK_NOT_FOUND', 404],
      ['POST', '/api/tasks/tsk_nope/cancel', {}, 'TASK_NOT_FOUND', 404],
      ['POST', '/api/tasks', { taskType: 't', agentId: 'lead' }, 'TASK_DELEGATION_REFUSED', 403, agentKey],
    ];
    for (const [method, path, body, code, status, token] of cases) {
      const answer = await call(method, path, body, token);
      expect(answer.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(answer.body.error.code).toBe(code);
    }
    const upward = await call('POST', '/api/tasks', { taskType: 't', agentId: 'lead' }, agentKey);
    expect(upward.body.error).toMatchObject({
      message: expect.stringContaining('dev (L2) may not delegate to lead (L1)'),
      details: { rule: 'down_only' },
    });
    const { body: pending } = await call('POST', '/api/tasks', { taskType: 'p' });
    const illegal = await call('POST', `/api/tasks/${pending.id}/approve`, {});
    expect(illegal).toMatchObject({
      status: 409,
      body: { error: { code: 'TASK_TRANSITION_INVALID', details: { from: 'PENDING', to: 'APPROVED' } } },
    });
    // An agent may not approve (APPROVE_ASSET is L1's).
    expect((await call('POST', `/api/tasks/${pending.id}/approve`, {}, agentKey)).status).toBe(403);
    expect((await call('POST', `/api/tasks/${pending.id}/cancel`, { reason: 'test' })).body.status).toBe(
      'CANCELLED',
    );
    expect((await call('POST', `/api/tasks/${pending.id}/cancel`, {})).status).toBe(409);
  });
});
