import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.ts';
import { auditEntryJson, EXPORT_FORMATS, exportFormatter } from '../audit/export-format.ts';
import type { AuditFilter } from '../store/types.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';

/** A time as ISO 8601 or epoch milliseconds. */
const Time = z
  .union([z.iso.datetime({ offset: true }), z.iso.date(), z.string().regex(/^\d+$/)])
  .transform((text) => new Date(/^\d+$/.test(text) ? Number(text) : text));

/** Filters shared by the listing and the export; `action` may be repeated or comma-separated. */
const FilterQuery = z.strictObject({
  actor: z
    .string()
    .regex(/^[a-z]+:.+$/, 'expected <type>:<id>, e.g. user:alice')
    .optional(),
  actorType: z.string().min(1).optional(),
  actorId: z.string().min(1).optional(),
  action: z.union([z.string(), z.array(z.string())]).optional(),
  entityType: z.string().min(1).optional(),
  entityId: z.string().min(1).optional(),
  outcome: z.string().min(1).optional(),
  since: Time.optional(),
  until: Time.optional(),
});

const ListQuery = FilterQuery.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional(),
});

const ExportQuery = FilterQuery.extend({ format: z.enum(EXPORT_FORMATS).default('json') });

const tags: RouteDoc['tags'] = ['audit'];
const DOCS = {
  list: {
    summary: 'Audit entries, newest first',
    tags,
    querystring: jsonSchemaOf(ListQuery),
    response: { 200: { description: '`{items: [entry], nextCursor}`' } },
  },
  export: {
    summary: 'Export the matching entries, oldest first (streamed download)',
    tags,
    querystring: jsonSchemaOf(ExportQuery),
    produces: ['application/json', 'text/csv'],
    response: { 200: { description: 'The entries as a JSON array or CSV', type: 'string' } },
  },
  verify: {
    summary: 'Walk the hash chain from its anchor',
    tags,
    response: {
      200: { description: '`{ok, checked, head: {lastId, lastHash}, anchor: {firstId, prevHash}, broken?}`' },
    },
  },
} satisfies Record<string, RouteDoc>;

function toFilter(query: z.infer<typeof FilterQuery>): AuditFilter {
  const [actorType, ...rest] = query.actor?.split(':') ?? [];
  const actions = [query.action ?? []]
    .flat()
    .flatMap((a) => a.split(','))
    .map((a) => a.trim())
    .filter(Boolean);
  return {
    ...(actorType !== undefined ? { actorType, actorId: rest.join(':') } : {}),
    ...(query.actorType ? { actorType: query.actorType } : {}),
    ...(query.actorId ? { actorId: query.actorId } : {}),
    ...(actions.length > 0 ? { actions } : {}),
    ...(query.entityType ? { entityType: query.entityType } : {}),
    ...(query.entityId ? { entityId: query.entityId } : {}),
    ...(query.outcome ? { outcome: query.outcome } : {}),
    ...(query.since ? { since: query.since } : {}),
    ...(query.until ? { until: query.until } : {}),
  };
}

/** `GET /api/audit` (filters, cursor), `GET /api/audit/export?format=csv|json`, `GET /api/audit/verify`. */
export async function auditRoutes(app: FastifyInstance, { audit }: { audit: AuditLog }): Promise<void> {
  app.get('/api/audit', { config: { access: 'audit.read' }, schema: DOCS.list }, async (request) => {
    const query = ListQuery.parse(request.query);
    const page = await audit.list(toFilter(query), { limit: query.limit, cursor: query.cursor ?? null });
    return { items: page.items.map(auditEntryJson), nextCursor: page.nextCursor };
  });

  app.get(
    '/api/audit/export',
    { config: { access: 'audit.read' }, schema: DOCS.export },
    async (request, reply) => {
      const { format, ...filters } = ExportQuery.parse(request.query);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      // Read a page at a time and written as the client takes it (stream backpressure): memory stays
      // bounded whatever the size of the log.
      return reply
        .type(exportFormatter(format).contentType)
        .header('content-disposition', `attachment; filename="ziggie-audit-${stamp}.${format}"`)
        .send(Readable.from(audit.export(toFilter(filters), format)));
    },
  );

  app.get('/api/audit/verify', { config: { access: 'audit.read' }, schema: DOCS.verify }, async () =>
    audit.verify(),
  );
}
