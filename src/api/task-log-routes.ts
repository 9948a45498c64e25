import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { taskNotFound } from '../orchestrator/task-moves.ts';
import type { Store } from '../store/types.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';

const LogParams = z.object({ id: z.string().min(1) });

const LogQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional().describe('Only lines after this line id'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const DOC = {
  summary: "A task's log, oldest line first",
  description:
    'Lines its executors wrote, `{lines: [{id, attempt, stream, text, at}], next}`. Pass `next` as `after` ' +
    'to read on (also lines written later); fewer than `limit` lines means there were no more yet.',
  tags: ['tasks'],
  params: jsonSchemaOf(LogParams),
  querystring: jsonSchemaOf(LogQuery),
  response: { 200: { description: '`{lines: [{id, attempt, stream, text, at}], next}`' } },
  'x-ziggie-errors': ['TASK_NOT_FOUND'],
} satisfies RouteDoc;

/** `GET /api/tasks/<id>/log?after=&limit=`: the stored log of a task, paged by line id. */
export async function taskLogRoutes(app: FastifyInstance, { store }: { store: Store }): Promise<void> {
  app.get('/api/tasks/:id/log', { config: { access: 'tasks.read' }, schema: DOC }, async (request) => {
    const { id } = LogParams.parse(request.params);
    const { after, limit } = LogQuery.parse(request.query);
    const lines = await store.tasks.logs(id, { ...(after === undefined ? {} : { afterId: after }), limit });
    // No lines may also mean no such task: tell the two apart.
    if (lines.length === 0 && !(await store.tasks.get(id))) {
      throw taskNotFound(id);
    }
    return { lines, next: lines.at(-1)?.id ?? after ?? 0 };
  });
}
