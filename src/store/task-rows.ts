import type { Insertable, Selectable } from 'kysely';
import type { Actor } from '../core/access.ts';
import type { TaskPriority } from '../core/assignment.ts';
import type { Tier } from '../core/policy.ts';
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
    tier: task.tier,
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
    tier: (row.tier ?? null) as Tier | null,
  };
}

/**
 * Every column of `tasks`, in the order `taskFromValues` reads them: the hot reads on SQLite ask for
 * rows as arrays (node:sqlite builds an object per row at twice the cost).
 */
export const TASK_COLUMNS = [
  'id',
  'task_type',
  'status',
  'priority',
  'workspace',
  'creator_type',
  'creator_id',
  'assignee',
  'reviewer_type',
  'reviewer_id',
  'parent_id',
  'depth',
  'required_skills_json',
  'input_json',
  'output_json',
  'error_json',
  'review_feedback',
  'attempts',
  'max_attempts',
  'rejections',
  'idempotency_key',
  'deadline',
  'created_at',
  'assigned_at',
  'started_at',
  'review_requested_at',
  'reviewed_at',
  'completed_at',
  'updated_at',
  'duration_ms',
  'input_tokens',
  'output_tokens',
  'cost',
  'why',
  'lease_owner',
  'lease_expires_at',
  'not_before',
  'child_policy',
  'awaiting_children',
  'complexity',
  'milestone',
  'tier',
] as const satisfies ReadonlyArray<keyof TasksTable>;

/** A column added to `tasks` and not to `TASK_COLUMNS` fails to compile here. */
const allColumns: [Exclude<keyof TasksTable, (typeof TASK_COLUMNS)[number]>] extends [never] ? true : never =
  true;
void allColumns;

/** `TASK_COLUMNS` as a select list. */
export const TASK_COLUMN_LIST = TASK_COLUMNS.join(', ');

/** A task from a row read as an array in `TASK_COLUMNS` order. */
export function taskFromValues(v: readonly unknown[]): Task {
  return toTask({
    id: v[0],
    task_type: v[1],
    status: v[2],
    priority: v[3],
    workspace: v[4],
    creator_type: v[5],
    creator_id: v[6],
    assignee: v[7],
    reviewer_type: v[8],
    reviewer_id: v[9],
    parent_id: v[10],
    depth: v[11],
    required_skills_json: v[12],
    input_json: v[13],
    output_json: v[14],
    error_json: v[15],
    review_feedback: v[16],
    attempts: v[17],
    max_attempts: v[18],
    rejections: v[19],
    idempotency_key: v[20],
    deadline: v[21],
    created_at: v[22],
    assigned_at: v[23],
    started_at: v[24],
    review_requested_at: v[25],
    reviewed_at: v[26],
    completed_at: v[27],
    updated_at: v[28],
    duration_ms: v[29],
    input_tokens: v[30],
    output_tokens: v[31],
    cost: v[32],
    why: v[33],
    lease_owner: v[34],
    lease_expires_at: v[35],
    not_before: v[36],
    child_policy: v[37],
    awaiting_children: v[38],
    complexity: v[39],
    milestone: v[40],
    tier: v[41],
  } as Selectable<TasksTable>);
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
