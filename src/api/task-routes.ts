import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RouteAccess } from '../core/access.ts';
import type { ErrorCode } from '../core/errors.ts';
import {
  ApproveTaskSchema,
  CancelTaskSchema,
  CompleteTaskSchema,
  FailTaskSchema,
  RejectTaskSchema,
  RequestReviewSchema,
  SubmitTaskSchema,
  SubmitTasksSchema,
} from '../core/task.ts';
import { TASK_STATUSES } from '../core/task-states.ts';
import type { TaskContext, TaskService } from '../orchestrator/task-service.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';
import { actorOf } from './route-access.ts';

const ListQuery = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  workspace: z.string().min(1).optional(),
  assignee: z.string().min(1).optional(),
  parentId: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional(),
});

const ApprovalsQuery = ListQuery.pick({ workspace: true, limit: true, cursor: true });

const IdParams = z.object({ id: z.string().min(1) });

const tags: RouteDoc['tags'] = ['tasks'];
const TRANSITION_ERRORS: ErrorCode[] = ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID'];
const DOCS = {
  submit: {
    summary: 'Submit a task (to a named agent, by skills, or left PENDING)',
    description:
      'Answers 201 with the new task, or 200 with the task the same creator submitted earlier with the same `idempotencyKey`.',
    tags,
    body: jsonSchemaOf(SubmitTaskSchema),
    response: {
      200: { description: 'The task submitted earlier with this key' },
      201: { description: 'The task' },
    },
    'x-ziggie-errors': [
      'AGENT_NOT_FOUND',
      'TASK_NOT_FOUND',
      'TASK_DELEGATION_REFUSED',
      'TASK_ASSIGNEE_UNAVAILABLE',
      'CONFLICT',
    ],
  },
  submitMany: {
    summary: 'Submit up to 1,000 tasks at once, all or none',
    description:
      'Answers 201 with `{tasks, created}`: the tasks in the order given (a task matching an earlier `idempotencyKey` is that task) and how many are new. When one is refused, none is submitted; the error names it (`tasks[3]: …`, `details.index`).',
    tags,
    body: jsonSchemaOf(SubmitTasksSchema),
    response: { 201: { description: '`{tasks: [task], created}`' } },
    'x-ziggie-errors': [
      'AGENT_NOT_FOUND',
      'TASK_NOT_FOUND',
      'TASK_DELEGATION_REFUSED',
      'TASK_ASSIGNEE_UNAVAILABLE',
      'CONFLICT',
    ],
  },
  list: {
    summary: 'List tasks, newest first',
    tags,
    querystring: jsonSchemaOf(ListQuery),
    response: { 200: { description: '`{items: [task], nextCursor}`' } },
  },
  approvals: {
    summary: 'The review inbox: tasks in REVIEW_REQUESTED, newest first',
    tags,
    querystring: jsonSchemaOf(ApprovalsQuery),
    response: { 200: { description: '`{items: [task], nextCursor}`' } },
  },
  get: {
    summary: 'A task with its transitions',
    tags,
    params: jsonSchemaOf(IdParams),
    response: { 200: { description: 'The task, with `transitions: [{from, to, actor, reason, at}]`' } },
    'x-ziggie-errors': ['TASK_NOT_FOUND'],
  },
} satisfies Record<string, RouteDoc>;

/** The status changes reachable over REST: path, access, body schema, what it does. */
const ACTIONS = [
  ['cancel', 'tasks.write', CancelTaskSchema, 'Cancel a task and its open subtasks'],
  ['approve', 'APPROVE_ASSET', ApproveTaskSchema, 'Approve the output under review (→ COMPLETED)'],
  ['reject', 'APPROVE_ASSET', RejectTaskSchema, 'Reject with feedback (→ reassigned, rejections + 1)'],
  ['start', 'EXECUTE_TASK', z.strictObject({}), 'The assignee starts work (ASSIGNED → IN_PROGRESS)'],
  ['complete', 'EXECUTE_TASK', CompleteTaskSchema, 'The assignee reports its result (→ COMPLETED)'],
  ['fail', 'EXECUTE_TASK', FailTaskSchema, 'The attempt failed (→ FAILED, retried while attempts remain)'],
  ['review', 'REQUEST_L1_REVIEW', RequestReviewSchema, 'The assignee asks for review (→ REVIEW_REQUESTED)'],
] as const satisfies ReadonlyArray<readonly [string, RouteAccess, z.ZodType, string]>;

/**
 * `POST|GET /api/tasks`, `GET /api/tasks/<id>`, `POST /api/tasks/<id>/<action>` for each status
 * change, and `GET /api/approvals`.
 */
export async function taskRoutes(app: FastifyInstance, { tasks }: { tasks: TaskService }): Promise<void> {
  const ctx = (request: FastifyRequest): TaskContext => ({ actor: actorOf(request), ip: request.ip });

  app.post(
    '/api/tasks',
    { config: { access: 'tasks.write' }, schema: DOCS.submit },
    async (request, reply) => {
      const { task, created } = await tasks.submit(request.body ?? {}, ctx(request));
      return reply.code(created ? 201 : 200).send(task);
    },
  );

  app.post(
    '/api/tasks/batch',
    { config: { access: 'tasks.write' }, schema: DOCS.submitMany },
    async (request, reply) => reply.code(201).send(await tasks.submitMany(request.body ?? {}, ctx(request))),
  );

  app.get('/api/tasks', { config: { access: 'tasks.read' }, schema: DOCS.list }, async (request) => {
    const { limit, cursor, ...filter } = ListQuery.parse(request.query);
    return tasks.list(filter, { limit, cursor: cursor ?? null });
  });

  app.get('/api/approvals', { config: { access: 'tasks.read' }, schema: DOCS.approvals }, async (request) => {
    const { limit, cursor, ...filter } = ApprovalsQuery.parse(request.query);
    return tasks.approvals(filter, { limit, cursor: cursor ?? null });
  });

  app.get('/api/tasks/:id', { config: { access: 'tasks.read' }, schema: DOCS.get }, async (request) => {
    return tasks.get(IdParams.parse(request.params).id);
  });

  for (const [action, access, body, summary] of ACTIONS) {
    const schema: RouteDoc = {
      summary,
      tags,
      params: jsonSchemaOf(IdParams),
      body: jsonSchemaOf(body),
      response: { 200: { description: 'The task after the change' } },
      'x-ziggie-errors': TRANSITION_ERRORS,
    };
    app.post(`/api/tasks/:id/${action}`, { config: { access }, schema }, async (request) => {
      const { id } = IdParams.parse(request.params);
      const input = request.body ?? {};
      const context = ctx(request);
      switch (action) {
        case 'cancel':
          return tasks.cancel(id, input, context);
        case 'approve':
          return tasks.approve(id, input, context);
        case 'reject':
          return tasks.reject(id, input, context);
        case 'start':
          body.parse(input);
          return tasks.start(id, context);
        case 'complete':
          return tasks.complete(id, input, context);
        case 'fail':
          return tasks.fail(id, input, context);
        case 'review':
          return tasks.requestReview(id, input, context);
      }
    });
  }
}
