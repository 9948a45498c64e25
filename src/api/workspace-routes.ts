import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PRIORITIES, WORKSPACE_HEALTH, WORKSPACE_STATUSES } from '../core/workspace.ts';
import type { RequestContext, WorkspaceRegistry } from '../registry/workspace-registry.ts';
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

  app.get('/api/workspaces', { config: { access: 'workspaces.read' } }, async (request) => {
    const { limit, cursor, ...filter } = ListQuery.parse(request.query);
    return workspaces.list(filter, { limit, cursor: cursor ?? null });
  });

  app.post('/api/workspaces', { config: { access: 'workspaces.write' } }, async (request, reply) => {
    return reply.code(201).send(await workspaces.create(request.body, ctx(request)));
  });

  app.post('/api/workspaces/import', { config: { access: 'workspaces.write' } }, async (request) => {
    const body = z.strictObject({ workspaces: z.unknown() }).parse(request.body);
    return workspaces.import(body.workspaces, ctx(request));
  });

  app.get('/api/workspaces/:name', { config: { access: 'workspaces.read' } }, async (request) => {
    return workspaces.get(NameParams.parse(request.params).name);
  });

  app.patch('/api/workspaces/:name', { config: { access: 'workspaces.write' } }, async (request) => {
    return workspaces.update(NameParams.parse(request.params).name, request.body, ctx(request));
  });

  app.post(
    '/api/workspaces/:name/ports',
    { config: { access: 'workspaces.write' } },
    async (request, reply) => {
      const { name } = NameParams.parse(request.params);
      const label = PortBody.parse(request.body)?.label ?? null;
      return reply.code(201).send(await workspaces.allocatePort(name, label, ctx(request)));
    },
  );

  app.delete(
    '/api/workspaces/:name/ports/:port',
    { config: { access: 'workspaces.write' } },
    async (request, reply) => {
      const { name, port } = PortParams.parse(request.params);
      await workspaces.releasePort(name, port, ctx(request));
      return reply.code(204).send();
    },
  );
}
