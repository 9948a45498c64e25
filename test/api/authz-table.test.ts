import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeAccessTable } from '../../src/api/auth-hook.ts';
import type { RouteAccess } from '../../src/core/access.ts';
import { ROLES, rolePermissions, TIERS, tierPermissions } from '../../src/core/policy.ts';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

/**
 * The authorization table: what every route requires. Every registered route must have a row
 * here and declare the same access; a new route without a row fails this test. (HEAD routes are
 * Fastify's automatic twins of GET routes and take the GET row.)
 */
const TABLE: Record<string, RouteAccess> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /api/openapi.json': 'public',
  'GET /metrics': 'mcp.tools.list',
  'GET /api/mcp/tools': 'mcp.tools.list',
  'POST /api/mcp/execute': 'mcp.tools.execute',
  'GET /api/mcp/health': 'mcp.tools.list',
  'GET /api/mcp/servers': 'mcp.tools.list',
  'POST /api/mcp/servers': 'mcp.admin',
  'DELETE /api/mcp/servers/:name': 'mcp.admin',
  'GET /api/mcp/stats': 'mcp.tools.list',
  'POST /api/mcp/tools/approve': 'mcp.admin',
  'POST /api/auth/login': 'public',
  'POST /api/auth/logout': 'authenticated',
  'GET /api/auth/me': 'authenticated',
  'POST /api/auth/token': 'authenticated',
  'GET /api/users': 'users.manage',
  'POST /api/users': 'users.manage',
  'PATCH /api/users/:id': 'users.manage',
  'GET /api/keys': 'keys.manage',
  'POST /api/keys': 'keys.manage',
  'DELETE /api/keys/:id': 'keys.manage',
  'GET /.well-known/oauth-protected-resource': 'public',
  'GET /.well-known/oauth-protected-resource/*': 'public',
  'GET /api/audit': 'audit.read',
  'GET /api/audit/export': 'audit.read',
  'GET /api/audit/verify': 'audit.read',
  'GET /api/workspaces': 'workspaces.read',
  'POST /api/workspaces': 'workspaces.write',
  'POST /api/workspaces/import': 'workspaces.write',
  'GET /api/workspaces/:name': 'workspaces.read',
  'PATCH /api/workspaces/:name': 'workspaces.write',
  'POST /api/workspaces/:name/ports': 'workspaces.write',
  'DELETE /api/workspaces/:name/ports/:port': 'workspaces.write',
  'GET /api/agents': 'agents.read',
  'POST /api/agents': 'agents.write',
  'POST /api/agents/import': 'agents.write',
  'GET /api/agents/tree': 'agents.read',
  'GET /api/agents/:id': 'agents.read',
  'PATCH /api/agents/:id': 'agents.write',
  'GET /api/agents/connect': 'EXECUTE_TASK',
  'POST /api/tasks': 'tasks.write',
  'POST /api/tasks/batch': 'tasks.write',
  'GET /api/tasks': 'tasks.read',
  'GET /api/tasks/:id': 'tasks.read',
  'GET /api/approvals': 'tasks.read',
  'POST /api/tasks/:id/cancel': 'tasks.write',
  'POST /api/tasks/:id/approve': 'APPROVE_ASSET',
  'POST /api/tasks/:id/reject': 'APPROVE_ASSET',
  'POST /api/tasks/:id/start': 'EXECUTE_TASK',
  'POST /api/tasks/:id/complete': 'EXECUTE_TASK',
  'POST /api/tasks/:id/fail': 'EXECUTE_TASK',
  'POST /api/tasks/:id/review': 'REQUEST_L1_REVIEW',
  'GET /api/tasks/:id/log': 'tasks.read',
  'GET /api/events': 'tasks.read',
  'GET /api/events/ws': 'tasks.read',
  'GET /api/usage': 'tasks.read',
  'GET /mcp': 'mcp.tools.list',
  'POST /mcp': 'mcp.tools.list',
  'DELETE /mcp': 'mcp.tools.list',
  'GET /servers/:name/mcp': 'mcp.tools.list',
  'POST /servers/:name/mcp': 'mcp.tools.list',
  'DELETE /servers/:name/mcp': 'mcp.tools.list',
  'GET /workspaces/:ws/mcp': 'mcp.tools.list',
  'POST /workspaces/:ws/mcp': 'mcp.tools.list',
  'DELETE /workspaces/:ws/mcp': 'mcp.tools.list',
};

const BOOTSTRAP = 'authz-table-bootstrap-token-0123456789';

type Who = { name: string; key?: string; permissions: ReadonlySet<string> };

let harness: Harness;
let app: FastifyInstance;
const identities: Who[] = [];

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
  const admin = { authorization: `Bearer ${BOOTSTRAP}` };
  const create = async (name: string, body: Record<string, unknown>) => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/keys',
      headers: admin,
      payload: { name, ...body },
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().key as string;
  };
  identities.push({ name: 'anonymous', permissions: new Set() });
  for (const role of ROLES)
    identities.push({ name: role, key: await create(role, { role }), permissions: rolePermissions(role) });
  for (const tier of TIERS) {
    // Agent keys act as a registered agent, with the registry's tier.
    const agent = await app.inject({
      method: 'POST',
      url: '/api/agents',
      headers: admin,
      payload: { id: `agent-${tier}`, name: `Agent ${tier}`, tier },
    });
    expect(agent.statusCode, agent.body).toBe(201);
    identities.push({
      name: tier,
      key: await create(tier, { agentId: `agent-${tier}`, tier }),
      permissions: tierPermissions(tier),
    });
  }
}, 60_000);

afterAll(async () => {
  await harness?.stop();
});

/** The row for a registered route (HEAD takes its GET's). */
function rowOf(method: string, url: string): RouteAccess | undefined {
  return TABLE[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

describe('authorization table', () => {
  it('has a row for every registered route, matching what the route declares', () => {
    const routes = routeAccessTable(app);
    expect(routes.length).toBeGreaterThan(20);
    const problems = routes.flatMap(({ method, url, access }) => {
      const row = rowOf(method, url);
      if (row === undefined) return [`${method} ${url}: no row in the table (it declares "${access}")`];
      if (row !== access) return [`${method} ${url}: declares "${access}", the table says "${row}"`];
      return [];
    });
    expect(problems).toEqual([]);
  });

  it('refuses to register a route without config.access', async () => {
    const { default: Fastify } = await import('fastify');
    const { registerAuthHook } = await import('../../src/api/auth-hook.ts');
    const bare = Fastify();
    registerAuthHook(bare, harness.ziggie.auth);
    expect(() => bare.get('/nothing-declared', async () => 'open')).toThrow(
      /GET \/nothing-declared declares no config.access/,
    );
    await bare.close();
  });

  it('answers every route × every role and tier as the table says: 401 without credentials, 403 naming the permission', async () => {
    const failures: string[] = [];
    const seen = { 401: 0, 403: 0, passed: 0 };
    for (const { method, url, access } of routeAccessTable(app)) {
      if (method === 'HEAD') continue;
      const path = url.replace(/:\w+/g, 'nonexistent').replace('*', 'mcp');
      const mcp = path.endsWith('/mcp');
      for (const who of identities) {
        const response = await app.inject({
          method: method as 'GET',
          url: path,
          headers: {
            ...(who.key ? { authorization: `Bearer ${who.key}` } : {}),
            ...(mcp ? { accept: 'application/json, text/event-stream' } : {}),
            ...(method === 'POST' || method === 'PATCH' ? { 'content-type': 'application/json' } : {}),
          },
          ...(method === 'POST' || method === 'PATCH' ? { payload: '{}' } : {}),
        });
        const status = response.statusCode;
        const label = `${method} ${url} as ${who.name}: ${status} ${response.body.slice(0, 160)}`;
        if (status === 401 || status === 403) seen[status]++;
        else seen.passed++;
        if (access === 'public') {
          if (status === 401 || status === 403) failures.push(`${label} (public)`);
        } else if (!who.key) {
          if (status !== 401) failures.push(`${label} (expected 401)`);
          else if (
            mcp &&
            !/resource_metadata="http:\/\/[^"]+\/\.well-known\/oauth-protected-resource"/.test(
              String(response.headers['www-authenticate']),
            )
          )
            failures.push(`${label} (no RFC 9728 challenge)`);
        } else if (access === 'authenticated' || who.permissions.has(access)) {
          if (status === 401 || status === 403) failures.push(`${label} (expected to pass)`);
        } else if (status !== 403 || !response.body.includes(`\\"${access}\\"`)) {
          failures.push(`${label} (expected 403 naming "${access}")`);
        }
      }
    }
    expect(failures).toEqual([]);
    // Each kind of answer happened, many times (the walk really ran).
    expect(seen[401]).toBeGreaterThanOrEqual(20);
    expect(seen[403]).toBeGreaterThanOrEqual(40);
    expect(seen.passed).toBeGreaterThanOrEqual(100);
  }, 120_000);
});
