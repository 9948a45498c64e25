import type { Insertable, Selectable } from 'kysely';
import type { Actor } from '../core/access.ts';
import type { TaskPriority } from '../core/assignment.ts';
import type { ChildPolicy, Task, TaskError, TaskTransition } from '../core/task.ts';
import type { TaskStatus } from '../core/task-states.ts';
import type { TasksTable, TaskTransitionsTable } from './schema.ts';
import type { NewTask, TaskAssignment, TaskUpdate } from './types.ts';

/** Tasks as rows and rows as tasks: the mapping task-repo.ts writes and reads with. */

/**
 * Rows (or ids) per statement when writing or reading many: SQLite takes at most 32,766 parameters
 * in one statement, and 200 rows of the widest table (~30 columns) stay well below.
 */
export const ROWS_PER_STATEMENT = 200;

/** `items` in slices of `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/** The columns a change writes: the fields given, nothing else (`updated_at` always). */
export function toSet(changes: TaskUpdate): Partial<Insertable<TasksTable>> {
  const set: Partial<Insertable<TasksTable>> = { updated_at: changes.updatedAt.getTime() };
  const time = (value: Date | null) => (value === null ? null : value.getTime());
  if (changes.status !== undefined) set.status = changes.status;
  if (changes.assignee !== undefined) set.assignee = changes.assignee;
  if (changes.reviewer !== undefined) {
    set.reviewer_type = changes.reviewer?.type ?? null;
    set.reviewer_id = changes.reviewer?.id ?? null;
  }
  if (changes.output !== undefined) set.output_json = JSON.stringify(changes.output);
  if (changes.error !== undefined)
    set.error_json = changes.error === null ? null : JSON.stringify(changes.error);
  if (changes.reviewFeedback !== undefined) set.review_feedback = changes.reviewFeedback;
  if (changes.attempts !== undefined) set.attempts = changes.attempts;
  if (changes.maxAttempts !== undefined) set.max_attempts = changes.maxAttempts;
  if (changes.rejections !== undefined) set.rejections = changes.rejections;
  if (changes.assignedAt !== undefined) set.assigned_at = time(changes.assignedAt);
  if (changes.startedAt !== undefined) set.started_at = time(changes.startedAt);
  if (changes.reviewRequestedAt !== undefined) set.review_requested_at = time(changes.reviewRequestedAt);
  if (changes.reviewedAt !== undefined) set.reviewed_at = time(changes.reviewedAt);
  if (changes.completedAt !== undefined) set.completed_at = time(changes.completedAt);
  if (changes.durationMs !== undefined) set.duration_ms = changes.durationMs;
  if (changes.inputTokens !== undefined) set.input_tokens = changes.inputTokens;
  if (changes.outputTokens !== undefined) set.output_tokens = changes.outputTokens;
  if (changes.cost !== undefined) set.cost = changes.cost;
  if (changes.why !== undefined) set.why = changes.why;
  if (changes.leaseOwner !== undefined) set.lease_owner = changes.leaseOwner;
  if (changes.leaseExpiresAt !== undefined) set.lease_expires_at = time(changes.leaseExpiresAt);
  if (changes.notBefore !== undefined) set.not_before = time(changes.notBefore);
  if (changes.awaitingChildren !== undefined) set.awaiting_children = changes.awaitingChildren ? 1 : 0;
  return set;
}

/** The row of a new task: zero counters, PENDING or (with an assignee) ASSIGNED since its creation. */
export function newRow(task: NewTask, assignment?: TaskAssignment): Insertable<TasksTable> {
  const at = task.createdAt.getTime();
  const started = assignment?.assignee !== undefined && assignment.lease !== undefined;
  return {
    id: task.id,
    task_type: task.taskType,
    status: assignment?.assignee ? (started ? 'IN_PROGRESS' : 'ASSIGNED') : 'PENDING',
    priority: task.priority,
    workspace: task.workspace,
    creator_type: task.creator.type,
    creator_id: task.creator.id,
    assignee: assignment?.assignee ?? null,
    reviewer_type: null,
    reviewer_id: null,
    parent_id: task.parentId,
    depth: task.depth,
    required_skills_json: JSON.stringify(task.requiredSkills),
    input_json: JSON.stringify(task.input ?? null),
    attempts: started ? 1 : 0,
    max_attempts: task.maxAttempts,
    rejections: 0,
    idempotency_key: task.idempotencyKey,
    deadline: task.deadline?.getTime() ?? null,
    created_at: at,
    updated_at: at,
    input_tokens: 0,
    output_tokens: 0,
    cost: 0,
    child_policy: task.childPolicy,
    awaiting_children: 0,
    complexity: task.complexity === 'high' ? 'high' : null,
    milestone: task.milestone ? 1 : 0,
    assigned_at: assignment?.assignee ? at : null,
    why: assignment?.why ?? null,
    started_at: started ? at : null,
    lease_owner: started ? (assignment?.lease?.owner ?? null) : null,
    lease_expires_at: started ? (assignment?.lease?.expiresAt.getTime() ?? null) : null,
  };
}

/** What was written, without reading it back (every column is known). */
export function writtenTask(row: Insertable<TasksTable>): Task {
  return toTask({
    output_json: null,
    error_json: null,
    review_feedback: null,
    assigned_at: null,
    started_at: null,
    review_requested_at: null,
    reviewed_at: null,
    completed_at: null,
    duration_ms: null,
    why: null,
    lease_owner: null,
    lease_expires_at: null,
    not_before: null,
    ...row,
  } as Selectable<TasksTable>);
}

export function actorOf(type: string, id: string): Actor {
  return { type: type as Actor['type'], id };
}

function date(value: number | null): Date | null {
  return value === null ? null : new Date(Number(value));
}

export function toTask(row: Selectable<TasksTable>): Task {
  return {
    id: row.id,
    taskType: row.task_type,
    status: row.status as TaskStatus,
    priority: row.priority as TaskPriority,
    workspace: row.workspace,
    creator: actorOf(row.creator_type, row.creator_id),
    assignee: row.assignee,
    reviewer:
      row.reviewer_type === null || row.reviewer_id === null
        ? null
        : actorOf(row.reviewer_type, row.reviewer_id),
    parentId: row.parent_id,
    depth: Number(row.depth),
    requiredSkills: JSON.parse(row.required_skills_json) as string[],
    input: JSON.parse(row.input_json) as unknown,
    output: row.output_json === null ? null : (JSON.parse(row.output_json) as unknown),
    error: row.error_json === null ? null : (JSON.parse(row.error_json) as TaskError),
    reviewFeedback: row.review_feedback,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    rejections: Number(row.rejections),
    idempotencyKey: row.idempotency_key,
    deadline: date(row.deadline),
    createdAt: new Date(Number(row.created_at)),
    assignedAt: date(row.assigned_at),
    startedAt: date(row.started_at),
    reviewRequestedAt: date(row.review_requested_at),
    reviewedAt: date(row.reviewed_at),
    completedAt: date(row.completed_at),
    updatedAt: new Date(Number(row.updated_at)),
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cost: Number(row.cost),
    why: row.why,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: date(row.lease_expires_at),
    notBefore: date(row.not_before),
    childPolicy: row.child_policy as ChildPolicy | null,
    awaitingChildren: Number(row.awaiting_children ?? 0) === 1,
    complexity: row.complexity === 'high' ? 'high' : 'normal',
    milestone: Number(row.milestone ?? 0) === 1,
  };
}

export function toTransition(row: Selectable<TaskTransitionsTable>): TaskTransition {
  return {
    taskId: row.task_id,
    from: row.from_status as TaskStatus | null,
    to: row.to_status as TaskStatus,
    actor: actorOf(row.actor_type, row.actor_id),
    reason: row.reason,
    at: new Date(Number(row.at)),
  };
}
