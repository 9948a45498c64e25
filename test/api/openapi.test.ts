import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeAccessTable } from '../../src/api/auth-hook.ts';
import { jsonSchemaOf, OPENAPI_PATH } from '../../src/api/openapi.ts';
import { NewKeySchema } from '../../src/auth/accounts.ts';
import { NewAgentSchema } from '../../src/core/agent.ts';
import { NewWorkspaceSchema } from '../../src/core/workspace.ts';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

/**
 * `GET /api/openapi.json`: an OpenAPI 3.1 document of every route the app registers, with the
 * access each needs, its security and error shape, and request schemas derived from the zod
 * schemas the handlers validate with (documentation only: the answers stay Ziggie's own).
 */
const BOOTSTRAP = 'openapi-bootstrap-token-0123456789abcdef';
const admin = { authorization: `Bearer ${BOOTSTRAP}` };

/** Registered routes deliberately left out of the document: Fastify's HEAD twins of GET routes. */
const EXCLUDED_METHODS = new Set(['HEAD']);

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  'x-ziggie-access'?: string;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  parameters?: { in: string; name: string; required?: boolean; schema: Record<string, unknown> }[];
  responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
}
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

let harness: Harness;
let app: FastifyInstance;
let doc: Document;

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
  // Public: no credentials, even with auth.mode required.
  const response = await app.inject({ method: 'GET', url: OPENAPI_PATH });
  expect(response.statusCode, response.body).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  doc = response.json();
}, 60_000);

afterAll(async () => {
  await harness?.stop();
});

/** A Fastify URL as an OpenAPI path: `:name` → `{name}`, a trailing wildcard → `{path}`. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{path}');

const operation = (method: string, path: string): Operation => {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`no ${method.toUpperCase()} ${path} in the document`);
  return op;
};

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(structuredClone(doc) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'session']);
  });

  it('lists every route the app registers, with its summary, tags, access and security', () => {
    const routes = routeAccessTable(app).filter((r) => !EXCLUDED_METHODS.has(r.method));
    expect(routes.length).toBeGreaterThan(40);
    const problems: string[] = [];
    for (const { method, url, access } of routes) {
      const label = `${method} ${url}`;
      const op = doc.paths[openApiPath(url)]?.[method.toLowerCase()];
      if (!op) {
        problems.push(`${label}: missing`);
        continue;
      }
      if (!op.summary || !op.tags?.length) problems.push(`${label}: no summary or tags`);
      if (op['x-ziggie-access'] !== access)
        problems.push(`${label}: x-ziggie-access ${op['x-ziggie-access']}, the route declares ${access}`);
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s)).sort();
      if (access === 'public' ? schemes.length > 0 : !schemes.includes('bearer'))
        problems.push(`${label}: security ${JSON.stringify(op.security)} for ${access}`);
      if (access !== 'public') {
        for (const status of ['401', '403']) {
          const ref = op.responses[status]?.content?.['application/json']?.schema.$ref;
          if (!ref?.startsWith('#/components/schemas/'))
            problems.push(`${label}: no ${status} error response`);
        }
      }
    }
    expect(problems).toEqual([]);
    // Nothing documented that the app does not serve.
    const registered = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`));
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    );
    expect(documented.filter((d) => !registered.has(d))).toEqual([]);
    expect(operation('get', OPENAPI_PATH)['x-ziggie-access']).toBe('public');
  });

  it('documents each MCP endpoint once, as Streamable HTTP with JSON-RPC errors', () => {
    for (const path of ['/mcp', '/servers/{name}/mcp']) {
      expect(Object.keys(doc.paths[path] ?? {}).sort()).toEqual(['delete', 'get', 'post']);
      const post = operation('post', path);
      expect(post.summary).toMatch(/Streamable HTTP/);
      expect(Object.keys(post.responses['200']?.content ?? {})).toEqual([
        'application/json',
        'text/event-stream',
      ]);
      expect(post.responses['401']?.content?.['application/json']?.schema.$ref).toBe(
        '#/components/schemas/JsonRpcError',
      );
      expect(post.security).toEqual([{ bearer: [] }]);
    }
  });

  it('derives request schemas from the zod schemas the handlers validate with', () => {
    const workspaceBody = operation('post', '/api/workspaces').requestBody?.content['application/json']
      ?.schema;
    expect(workspaceBody).toEqual(jsonSchemaOf(NewWorkspaceSchema));
    expect(workspaceBody?.required).toEqual(expect.arrayContaining(['name', 'path']));
    expect(operation('post', '/api/agents').requestBody?.content['application/json']?.schema).toMatchObject({
      required: expect.arrayContaining(['id', 'name', 'tier']),
    });
    expect(operation('post', '/api/keys').requestBody?.content['application/json']?.schema).toEqual(
      jsonSchemaOf(NewKeySchema),
    );
    const query = operation('get', '/api/agents').parameters ?? [];
    expect(query.find((p) => p.name === 'limit')).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    });
    expect(query.find((p) => p.name === 'status')?.schema.enum).toContain('disabled');
    expect(operation('patch', '/api/workspaces/{name}').parameters).toContainEqual(
      expect.objectContaining({ in: 'path', name: 'name', required: true }),
    );

    // The documented schema accepts and refuses what zod does.
    const ajv = new Ajv2020({ strict: false });
    const accepts = ajv.compile(jsonSchemaOf(NewAgentSchema));
    for (const body of [
      { id: 'a-1', name: 'A', tier: 'L2' },
      { id: 'a-1', name: 'A', tier: 'L2', skills: ['x'], capacity: 3 },
      { id: 'a-1', tier: 'L2' },
      { id: 'a-1', name: 'A', tier: 'L2', unknown: true },
      { id: 'a-1', name: 'A', tier: 'L2', capacity: -1 },
    ]) {
      expect(accepts(body), JSON.stringify(body)).toBe(NewAgentSchema.safeParse(body).success);
    }
  });

  it('documents the error shape and leaves validation to the handlers (same codes and shape as before)', async () => {
    expect(doc.components.schemas.Error).toMatchObject({
      required: ['error'],
      properties: { error: { required: ['code', 'message'] } },
    });
    const created = operation('post', '/api/workspaces').responses;
    expect(created['409']?.description).toMatch(/WORKSPACE_EXISTS/);
    expect(created['400']?.description).toBe('VALIDATION_FAILED');

    const missing = await app.inject({ method: 'POST', url: '/api/workspaces', headers: admin, payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(/path: .*name: /s),
        details: { issues: expect.any(Array) },
      },
    });
    const badQuery = await app.inject({ method: 'GET', url: '/api/agents?limit=0', headers: admin });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/^limit: /),
    });
    // Query strings are still coerced by zod (Fastify's coercion does not run) and answers not reshaped.
    const ok = await app.inject({ method: 'GET', url: '/api/workspaces?limit=5', headers: admin });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ items: [], nextCursor: null });
  });
});
