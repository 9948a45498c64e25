import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AGENT_STATUSES, AgentPatchSchema, NewAgentSchema } from '../core/agent.ts';
import { type AgentRegistry, ImportSchema } from '../registry/agent-registry.ts';
import type { RequestContext } from '../registry/workspace-registry.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';
import { actorOf } from './route-access.ts';

const ListQuery = z.strictObject({
  tier: z.string().min(1).optional(),
  team: z.string().min(1).optional(),
  skill: z.string().min(1).optional(),
  workspace: z.string().min(1).optional(),
  status: z.enum(AGENT_STATUSES).optional(),
  parent: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional(),
});

const TreeQuery = z.strictObject({
  root: z.string().min(1).optional(),
  workspace: z.string().min(1).optional(),
  depth: z.coerce.number().int().min(0).max(100).optional(),
});

const IdParams = z.object({ id: z.string().min(1) });

const tags: RouteDoc['tags'] = ['agents'];
const DOCS = {
  list: {
    summary: 'List agents',
    tags,
    querystring: jsonSchemaOf(ListQuery),
    response: { 200: { description: '`{items: [agent], nextCursor}`, by id' } },
  },
  create: {
    summary: 'Register an agent',
    tags,
    body: jsonSchemaOf(NewAgentSchema),
    response: { 201: { description: 'The agent' } },
    'x-ziggie-errors': [
      'AGENT_TIER_UNKNOWN',
      'AGENT_EXISTS',
      'AGENT_PARENT_NOT_FOUND',
      'AGENT_PARENT_TIER_INVALID',
    ],
  },
  import: {
    summary: 'Import agents (all or nothing, up to 50,000)',
    tags,
    body: jsonSchemaOf(ImportSchema),
    response: { 200: { description: '`{imported}`' } },
    'x-ziggie-errors': [
      'AGENT_TIER_UNKNOWN',
      'AGENT_EXISTS',
      'AGENT_PARENT_NOT_FOUND',
      'AGENT_PARENT_TIER_INVALID',
      'AGENT_HIERARCHY_CYCLE',
      'BODY_TOO_LARGE',
    ],
  },
  tree: {
    summary: 'The agent hierarchy as a tree',
    tags,
    querystring: jsonSchemaOf(TreeQuery),
    response: {
      200: { description: '`{roots: [{id, name, tier, team, workspace, status, children}], total}`' },
    },
    'x-ziggie-errors': ['AGENT_NOT_FOUND'],
  },
  get: {
    summary: 'An agent',
    tags,
    params: jsonSchemaOf(IdParams),
    response: { 200: { description: 'The agent' } },
    'x-ziggie-errors': ['AGENT_NOT_FOUND'],
  },
  update: {
    summary: 'Change an agent (`{status: "disabled"}` disables it)',
    tags,
    params: jsonSchemaOf(IdParams),
    body: jsonSchemaOf(AgentPatchSchema),
    response: { 200: { description: 'The agent' } },
    'x-ziggie-errors': [
      'AGENT_NOT_FOUND',
      'AGENT_TIER_UNKNOWN',
      'AGENT_PARENT_NOT_FOUND',
      'AGENT_PARENT_TIER_INVALID',
      'AGENT_HIERARCHY_CYCLE',
    ],
  },
} satisfies Record<string, RouteDoc>;

/** Imports may be large (10,000 agents are a few MB of JSON): their own body limit. */
const IMPORT_BODY_LIMIT = 64 * 1024 * 1024;

/**
 * `GET|POST /api/agents`, `GET|PATCH /api/agents/<id>`, `POST /api/agents/import`, `GET /api/agents/tree`.
 * Disabling is `PATCH {status: "disabled"}`.
 */
export async function agentRoutes(
  app: FastifyInstance,
  { agents }: { agents: AgentRegistry },
): Promise<void> {
  const ctx = (request: FastifyRequest): RequestContext => ({ actor: actorOf(request), ip: request.ip });

  app.get('/api/agents', { config: { access: 'agents.read' }, schema: DOCS.list }, async (request) => {
    const { limit, cursor, ...filter } = ListQuery.parse(request.query);
    return agents.list(filter, { limit, cursor: cursor ?? null });
  });

  app.post(
    '/api/agents',
    { config: { access: 'agents.write' }, schema: DOCS.create },
    async (request, reply) => {
      return reply.code(201).send(await agents.create(request.body, ctx(request)));
    },
  );

  app.post(
    '/api/agents/import',
    { config: { access: 'agents.write' }, bodyLimit: IMPORT_BODY_LIMIT, schema: DOCS.import },
    async (request) => agents.import(request.body, ctx(request)),
  );

  app.get('/api/agents/tree', { config: { access: 'agents.read' }, schema: DOCS.tree }, async (request) => {
    const { root, workspace, depth } = TreeQuery.parse(request.query);
    return agents.tree({
      ...(root === undefined ? {} : { root }),
      ...(workspace === undefined ? {} : { workspace }),
      ...(depth === undefined ? {} : { depth }),
    });
  });

  app.get('/api/agents/:id', { config: { access: 'agents.read' }, schema: DOCS.get }, async (request) => {
    return agents.get(IdParams.parse(request.params).id);
  });

  app.patch(
    '/api/agents/:id',
    { config: { access: 'agents.write' }, schema: DOCS.update },
    async (request) => {
      return agents.update(IdParams.parse(request.params).id, request.body, ctx(request));
    },
  );
}
