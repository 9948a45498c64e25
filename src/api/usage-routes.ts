import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store, UsageGroup, UsageGroupBy } from '../store/types.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';

/** The groupings of `GET /api/usage`. */
export const USAGE_GROUPS = ['agent', 'team', 'workspace'] as const satisfies readonly UsageGroupBy[];

/** A time in a query: ISO 8601 with an offset (`2026-05-01T00:00:00Z`) or a date (`2026-05-01`, UTC midnight). */
const Time = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

/** `GET /api/usage` query: how to group, and which tasks (created in [from, to), of a workspace). */
export const UsageQuerySchema = z
  .strictObject({
    groupBy: z.enum(USAGE_GROUPS).default('agent'),
    from: Time.optional(),
    to: Time.optional(),
    workspace: z.string().min(1).optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || new Date(q.from) < new Date(q.to), {
    path: ['to'],
    message: 'expected a time after `from`',
  });

/** The answer of `GET /api/usage`. */
export interface UsageReport {
  groupBy: UsageGroupBy;
  from: string | null;
  to: string | null;
  workspace: string | null;
  groups: UsageGroup[];
}

const DOC: RouteDoc = {
  summary: 'Tokens, cost and duration of tasks, rolled up per agent, team or workspace',
  description:
    'One row per group: `{key, tasks, completed, failed, inputTokens, outputTokens, cost, durationMs, avgDurationMs}`, ' +
    'over the tasks created at or after `from` and before `to` (of `workspace`, when given). Each task counts its own ' +
    "usage only (a parent does not add its subtasks'). `key` is null for tasks without an agent, team or workspace.",
  tags: ['tasks'],
  querystring: jsonSchemaOf(UsageQuerySchema),
  response: { 200: { description: '`{groupBy, from, to, workspace, groups: [...]}`' } },
};

/** `GET /api/usage`. */
export async function usageRoutes(app: FastifyInstance, { store }: { store: Store }): Promise<void> {
  app.get(
    '/api/usage',
    { config: { access: 'tasks.read' }, schema: DOC },
    async (request): Promise<UsageReport> => {
      const query = UsageQuerySchema.parse(request.query);
      const from = query.from === undefined ? undefined : new Date(query.from);
      const to = query.to === undefined ? undefined : new Date(query.to);
      const groups = await store.tasks.usage({
        groupBy: query.groupBy,
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(query.workspace === undefined ? {} : { workspace: query.workspace }),
      });
      return {
        groupBy: query.groupBy,
        from: from?.toISOString() ?? null,
        to: to?.toISOString() ?? null,
        workspace: query.workspace ?? null,
        groups,
      };
    },
  );
}
