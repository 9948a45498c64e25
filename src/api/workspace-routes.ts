import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  NewWorkspaceSchema,
  PRIORITIES,
  WORKSPACE_HEALTH,
  WORKSPACE_STATUSES,
  WorkspacePatchSchema,
} from '../core/workspace.ts';
import {
  ImportListSchema,
  ImportMapSchema,
  type RequestContext,
  type WorkspaceRegistry,
} from '../registry/workspace-registry.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';
import { actorOf } from './route-access.ts';

const ListQuery = z.strictObject({
  status: z.enum(WORKSPACE_STATUSES).optional(),
  priority: z.enum(PRIORITIES).optional(),
  health: z.enum(WORKSPACE_HEALTH).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional(),
});

const NameParams = z.object({ name: z.string().min(1) });
const PortParams = NameParams.extend({ port: z.coerce.number().int().min(1).max(65_535) });
const PortBody = z.strictObject({ label: z.string().min(1).max(200).optional() }).nullish();
/** The registry validates the workspaces themselves (all or nothing). */
const ImportBody = z.strictObject({ workspaces: z.unknown() });

const tags: RouteDoc['tags'] = ['workspaces'];
const notFound = ['WORKSPACE_NOT_FOUND'] as const;
const DOCS = {
  list: {
    summary: 'List workspaces',
    tags,
    querystring: jsonSchemaOf(ListQuery),
    response: { 200: { description: '`{items: [workspace], nextCursor}`, by name' } },
  },
  create: {
    summary: 'Create a workspace',
    tags,
    body: jsonSchemaOf(NewWorkspaceSchema),
    response: { 201: { description: 'The workspace' } },
    'x-ziggie-errors': ['WORKSPACE_EXISTS', 'WORKSPACE_PORT_OVERLAP'],
  },
  import: {
    summary: 'Import workspaces (all or nothing)',
    tags,
    body: jsonSchemaOf(z.strictObject({ workspaces: z.union([ImportMapSchema, ImportListSchema]) })),
    response: { 200: { description: '`{created: [names], updated: [names]}`' } },
    'x-ziggie-errors': ['WORKSPACE_PORT_OVERLAP', 'CONFLICT'],
  },
  get: {
    summary: 'A workspace and the ports handed out from its range',
    tags,
    params: jsonSchemaOf(NameParams),
    response: { 200: { description: 'The workspace and `ports: [{port, label, allocatedAt}]`' } },
    'x-ziggie-errors': notFound,
  },
  update: {
    summary: 'Change a workspace',
    tags,
    params: jsonSchemaOf(NameParams),
    body: jsonSchemaOf(WorkspacePatchSchema),
    response: { 200: { description: 'The workspace' } },
    'x-ziggie-errors': [...notFound, 'WORKSPACE_PORT_OVERLAP', 'CONFLICT'],
  },
  allocatePort: {
    summary: 'Hand out the lowest free port of the range',
    tags,
    params: jsonSchemaOf(NameParams),
    body: jsonSchemaOf(PortBody),
    response: { 201: { description: '`{port, workspace, label, allocatedAt}`' } },
    'x-ziggie-errors': [...notFound, 'WORKSPACE_PORTS_EXHAUSTED'],
  },
  releasePort: {
    summary: 'Give a handed-out port back',
    tags,
    params: jsonSchemaOf(PortParams),
    response: { 204: { description: 'Released', type: 'null' } },
    'x-ziggie-errors': [...notFound, 'NOT_FOUND'],
  },
} satisfies Record<string, RouteDoc>;

/**
 * `GET|POST /api/workspaces`, `GET|PATCH /api/workspaces/<name>`, `POST /api/workspaces/<name>/ports`,
 * `DELETE /api/workspaces/<name>/ports/<port>`, `POST /api/workspaces/import`.
 */
export async function workspaceRoutes(
  app: FastifyInstance,
  { workspaces }: { workspaces: WorkspaceRegistry },
): Promise<void> {
  const ctx = (request: Parameters<typeof actorOf>[0]): RequestContext => ({
    actor: actorOf(request),
    ip: request.ip,
  });

  app.get(
    '/api/workspaces',
    { config: { access: 'workspaces.read' }, schema: DOCS.list },
    async (request) => {
      const { limit, cursor, ...filter } = ListQuery.parse(request.query);
      return workspaces.list(filter, { limit, cursor: cursor ?? null });
    },
  );

  app.post(
    '/api/workspaces',
    { config: { access: 'workspaces.write' }, schema: DOCS.create },
    async (request, reply) => {
      return reply.code(201).send(await workspaces.create(request.body, ctx(request)));
    },
  );

  app.post(
    '/api/workspaces/import',
    { config: { access: 'workspaces.write' }, schema: DOCS.import },
    async (request) => {
      const body = ImportBody.parse(request.body);
      return workspaces.import(body.workspaces, ctx(request));
    },
  );

  app.get(
    '/api/workspaces/:name',
    { config: { access: 'workspaces.read' }, schema: DOCS.get },
    async (request) => {
      return workspaces.get(NameParams.parse(request.params).name);
    },
  );

  app.patch(
    '/api/workspaces/:name',
    { config: { access: 'workspaces.write' }, schema: DOCS.update },
    async (request) => {
      return workspaces.update(NameParams.parse(request.params).name, request.body, ctx(request));
    },
  );

  app.post(
    '/api/workspaces/:name/ports',
    { config: { access: 'workspaces.write' }, schema: DOCS.allocatePort },
    async (request, reply) => {
      const { name } = NameParams.parse(request.params);
      const label = PortBody.parse(request.body)?.label ?? null;
      return reply.code(201).send(await workspaces.allocatePort(name, label, ctx(request)));
    },
  );

  app.delete(
    '/api/workspaces/:name/ports/:port',
    { config: { access: 'workspaces.write' }, schema: DOCS.releasePort },
    async (request, reply) => {
      const { name, port } = PortParams.parse(request.params);
      await workspaces.releasePort(name, port, ctx(request));
      return reply.code(204).send();
    },
  );
}
