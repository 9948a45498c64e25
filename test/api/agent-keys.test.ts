import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

/**
 * Agent API keys and access tokens follow the agent registry: they act with the agent's tier as it
 * is now, and stop working with the next request once the agent is disabled.
 */
const BOOTSTRAP = 'agent-keys-bootstrap-token-0123456789';
const admin = { authorization: `Bearer ${BOOTSTRAP}` };

let harness: Harness;
let app: FastifyInstance;

beforeAll(async () => {
  const previous = process.env.ZIGGIE_BOOTSTRAP_TOKEN;
  process.env.ZIGGIE_BOOTSTRAP_TOKEN = BOOTSTRAP;
  try {
    harness = await startZiggie({ auth: { mode: 'required', rateLimits: { enabled: false } } });
  } finally {
    if (previous === undefined) delete process.env.ZIGGIE_BOOTSTRAP_TOKEN;
    else process.env.ZIGGIE_BOOTSTRAP_TOKEN = previous;
  }
  app = await harness.ziggie.app();
}, 60_000);

afterAll(async () => {
  await harness?.stop();
});

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, headers: object, payload?: object) {
  return app.inject({
    method,
    url,
    headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
    ...(payload ? { payload } : {}),
  });
}

async function agentWithKey(id: string, tier: string): Promise<Record<string, string>> {
  const agent = await call('POST', '/api/agents', admin, { id, name: `Agent ${id}`, tier });
  expect(agent.statusCode, agent.body).toBe(201);
  const key = await call('POST', '/api/keys', admin, { name: id, agentId: id });
  expect(key.statusCode, key.body).toBe(201);
  expect(key.json()).toMatchObject({ kind: 'agent', agentId: id, tier });
  return { authorization: `Bearer ${key.json().key}` };
}

describe('agent keys follow the registry', () => {
  it('refuses an agent key for an agent that is not registered', async () => {
    const response = await call('POST', '/api/keys', admin, { name: 'ghost', agentId: 'ghost', tier: 'L1' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toMatchObject({ code: 'NOT_FOUND', message: 'no agent "ghost"' });
  });

  it("acts with the agent's current tier: a tier change applies to the next request", async () => {
    const key = await agentWithKey('lead-1', 'L1');
    const me = await call('GET', '/api/auth/me', key);
    expect(me.json()).toMatchObject({ actor: { type: 'agent', id: 'lead-1' }, tier: 'L1' });
    expect((await call('GET', '/api/workspaces', key)).statusCode).toBe(200);

    const demoted = await call('PATCH', '/api/agents/lead-1', admin, { tier: 'L3' });
    expect(demoted.statusCode, demoted.body).toBe(200);
    expect((await call('GET', '/api/auth/me', key)).json()).toMatchObject({ tier: 'L3' });
    const refused = await call('GET', '/api/workspaces', key);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({
      code: 'PERMISSION_DENIED',
      message: 'GET /api/workspaces needs "workspaces.read", which agent "lead-1" (tier L3) lacks',
    });
  });

  it('refuses the key (401 naming the agent) on the next request once the agent is disabled, and again when re-enabled works', async () => {
    const key = await agentWithKey('worker-1', 'L3');
    expect((await call('GET', '/api/auth/me', key)).statusCode).toBe(200);

    const disabled = await call('PATCH', '/api/agents/worker-1', admin, { status: 'disabled' });
    expect(disabled.statusCode, disabled.body).toBe(200);
    const refused = await call('GET', '/api/auth/me', key);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatchObject({
      code: 'AUTH_INVALID',
      message: expect.stringMatching(/^API key zgk_[0-9a-f]{8} refused: agent "worker-1" is disabled$/),
    });
    // The MCP endpoint refuses it too, with the RFC 6750 challenge.
    const mcp = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...key, accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
      payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    });
    expect(mcp.statusCode).toBe(401);
    expect(mcp.headers['www-authenticate']).toContain('error="invalid_token"');

    expect((await call('PATCH', '/api/agents/worker-1', admin, { status: 'idle' })).statusCode).toBe(200);
    expect((await call('GET', '/api/auth/me', key)).json()).toMatchObject({ actor: { id: 'worker-1' } });
  });

  it("refuses an agent's access token once the agent is disabled, and narrows it to the current tier", async () => {
    const key = await agentWithKey('lead-2', 'L1');
    const minted = await call('POST', '/api/auth/token', key, {});
    expect(minted.statusCode, minted.body).toBe(200);
    const token = { authorization: `Bearer ${minted.json().accessToken}` };
    expect((await call('GET', '/api/agents', token)).statusCode).toBe(200);

    // Demoted to L3: the token keeps only what L3 grants (its claims say L1).
    expect((await call('PATCH', '/api/agents/lead-2', admin, { tier: 'L3' })).statusCode).toBe(200);
    const me = await call('GET', '/api/auth/me', token);
    expect(me.json()).toMatchObject({ method: 'token', tier: 'L3' });
    expect(me.json().permissions).not.toContain('agents.read');
    expect((await call('GET', '/api/agents', token)).statusCode).toBe(403);

    expect((await call('PATCH', '/api/agents/lead-2', admin, { status: 'disabled' })).statusCode).toBe(200);
    const refused = await call('GET', '/api/auth/me', token);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatchObject({
      code: 'AUTH_INVALID',
      message: 'access token refused: agent "lead-2" is disabled',
    });
  });
});
