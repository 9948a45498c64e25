import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.ts';
import { auditEntryJson, EXPORT_FORMATS, exportFormatter } from '../audit/export-format.ts';
import type { AuditFilter } from '../store/types.ts';

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
  app.get('/api/audit', { config: { access: 'audit.read' } }, async (request) => {
    const query = ListQuery.parse(request.query);
    const page = await audit.list(toFilter(query), { limit: query.limit, cursor: query.cursor ?? null });
    return { items: page.items.map(auditEntryJson), nextCursor: page.nextCursor };
  });

  app.get('/api/audit/export', { config: { access: 'audit.read' } }, async (request, reply) => {
    const { format, ...filters } = ExportQuery.parse(request.query);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    // Read a page at a time and written as the client takes it (stream backpressure): memory stays
    // bounded whatever the size of the log.
    return reply
      .type(exportFormatter(format).contentType)
      .header('content-disposition', `attachment; filename="ziggie-audit-${stamp}.${format}"`)
      .send(Readable.from(audit.export(toFilter(filters), format)));
  });

  app.get('/api/audit/verify', { config: { access: 'audit.read' } }, async () => audit.verify());
}
