import type { Bus } from '../bus/bus.ts';
import type { TaskChangedEvent } from '../bus/events.ts';
import { SYSTEM_ACTOR } from '../core/access.ts';
import type { AuditAction, NewAuditEntry } from '../core/audit.ts';
import type { DelegationRule } from '../core/delegation.ts';
import { ZiggieError } from '../core/errors.ts';
import type { Task, TaskTransition } from '../core/task.ts';
import { allowedTransitions, isTerminal, type TaskStatus, transition } from '../core/task-states.ts';
import type { NewTask, Store, StoreTx, TaskUpdate } from '../store/types.ts';
import type { TaskContext } from './task-context.ts';

/**
 * The one way a task's status changes (`move`): through the state machine, in the caller's
 * transaction, with its transition row, its audit entry, the assignee's workload and, once the
 * transaction commits, its `task.changed` event. A task that finishes settles its parent when the
 * parent waits for its subtasks.
 */

/** The audit action recorded for a move into each status. */
const ACTION: Record<TaskStatus, AuditAction> = {
  PENDING: 'TASK_CREATED',
  ASSIGNED: 'TASK_DELEGATED',
  IN_PROGRESS: 'TASK_STARTED',
  REVIEW_REQUESTED: 'TASK_REVIEW_REQUESTED',
  APPROVED: 'TASK_APPROVED',
  REJECTED: 'TASK_REJECTED',
  COMPLETED: 'TASK_COMPLETED',
  FAILED: 'TASK_FAILED',
  CANCELLED: 'TASK_CANCELLED',
};

/** Statuses in which a task counts toward its assignee's workload. */
const HELD = new Set<TaskStatus>(['ASSIGNED', 'IN_PROGRESS']);

/** What the moves of the transaction in progress record, written together at its end. */
interface Pending {
  /** Workload changes per agent, applied together (in id order) at the end. */
  workloads: Map<string, number>;
  transitions: TaskTransition[];
  audit: NewAuditEntry[];
  /** Published only once the transaction commits (nothing of a rollback). */
  events: TaskChangedEvent[];
}
const pending = new WeakMap<StoreTx, Pending>();

/**
 * Runs `fn` in one transaction, then writes the workload changes, transition rows and audit
 * entries its moves recorded (a statement or two each) and, after the commit, publishes their task
 * events. Every change of tasks goes through here.
 *
 * The workloads are written in agent id order, all at once: two transactions touching the same
 * agents lock their rows in the same order, so they wait for each other instead of deadlocking.
 * The audit entries are appended last on purpose: appending locks the audit chain's head row,
 * which every task transaction needs. Taken last, after every task and agent row the transaction
 * locks, it cannot be held while waiting for another row — two transactions cannot deadlock on it
 * (on PostgreSQL; SQLite has one writer anyway), and it is held for the shortest time.
 */
export async function inTaskTransaction<T>(
  store: Store,
  bus: Bus | undefined,
  fn: (tx: StoreTx) => Promise<T>,
): Promise<T> {
  let state: Pending = newPending();
  const result = await store.transaction(async (tx) => {
    state = newPending();
    pending.set(tx, state);
    const value = await fn(tx);
    pending.delete(tx);
    await tx.tasks.writeMoves(sortedWorkloads(state), state.transitions, state.audit);
    return value;
  });
  if (bus) for (const event of state.events) bus.publish('task.changed', event);
  return result;
}

function newPending(): Pending {
  return { workloads: new Map(), transitions: [], audit: [], events: [] };
}

/**
 * Adds to an agent's workload: at the end of the transaction (see inTaskTransaction), or at once
 * outside one.
 */
export async function countWorkload(tx: StoreTx, agentId: string, delta: number): Promise<void> {
  const state = pending.get(tx);
  if (!state) return tx.tasks.adjustWorkload(agentId, delta);
  state.workloads.set(agentId, (state.workloads.get(agentId) ?? 0) + delta);
}

/**
 * Writes the workload changes counted so far. Assignment by load calls it before it reads the
 * agents' workloads, so that it sees the tasks given out earlier in the same transaction.
 */
export async function applyWorkloads(tx: StoreTx, state = pending.get(tx)): Promise<void> {
  if (!state || state.workloads.size === 0) return;
  await tx.tasks.adjustWorkloads(sortedWorkloads(state));
}

/** The workload changes counted so far, in agent id order (and no longer pending). */
function sortedWorkloads(state: Pending): Map<string, number> {
  const sorted = new Map([...state.workloads].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  state.workloads.clear();
  return sorted;
}

export type MoveChanges = Omit<TaskUpdate, 'updatedAt' | 'status' | 'attempts' | 'rejections'>;

/**
 * Moves `task` to `to` through the state machine (refused with TASK_TRANSITION_INVALID), writing
 * the change, its transition row, its audit entry and the assignee's workload in the caller's
 * transaction. Leaving IN_PROGRESS ends the attempt's lease.
 */
export async function move(
  tx: StoreTx,
  task: Task,
  to: TaskStatus,
  ctx: TaskContext,
  reason: string | null,
  changes: MoveChanges,
): Promise<Task> {
  const next = transition(task, to);
  const at = new Date();
  const leaseEnds = to !== 'IN_PROGRESS' && task.leaseOwner !== null;
  const updated = await tx.tasks.write(task, {
    ...(leaseEnds ? { leaseOwner: null, leaseExpiresAt: null } : {}),
    ...changes,
    status: next.status,
    attempts: next.attempts,
    rejections: next.rejections,
    updatedAt: at,
  });
  if (!updated) throw taskNotFound(task.id);
  const before = HELD.has(task.status) ? task.assignee : null;
  const after = HELD.has(updated.status) ? updated.assignee : null;
  if (before !== after) {
    if (before) await countWorkload(tx, before, -1);
    if (after) await countWorkload(tx, after, 1);
  }
  await record(tx, updated, task.status, to, ctx, reason, at, {
    ...(updated.assignee ? { assignee: updated.assignee } : {}),
    attempts: updated.attempts,
    ...(updated.rejections > 0 ? { rejections: updated.rejections } : {}),
  });
  if (updated.parentId !== null && isTerminal(updated)) await settleParent(tx, updated.parentId);
  return updated;
}

/** A task about to be created, as it will read once inserted PENDING (for the assignment rules). */
export function draftTask(draft: NewTask): Task {
  return {
    ...draft,
    status: 'PENDING',
    assignee: null,
    reviewer: null,
    output: null,
    error: null,
    reviewFeedback: null,
    attempts: 0,
    rejections: 0,
    assignedAt: null,
    startedAt: null,
    reviewRequestedAt: null,
    reviewedAt: null,
    completedAt: null,
    updatedAt: draft.createdAt,
    durationMs: null,
    inputTokens: 0,
    outputTokens: 0,
    cost: 0,
    why: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    notBefore: null,
    awaitingChildren: false,
  };
}

/**
 * Creates a task — PENDING, and ASSIGNED at once when `decision` names an agent — in one insert,
 * recorded as the two moves it is (creation, then PENDING → ASSIGNED through the state machine).
 */
export async function createTask(
  tx: StoreTx,
  draft: NewTask,
  ctx: TaskContext,
  decision?: { agentId?: string | undefined; why: string },
): Promise<Task> {
  const assignee = decision?.agentId;
  const created = await tx.tasks.insert(
    draft,
    decision ? { why: decision.why, ...(assignee ? { assignee } : {}) } : undefined,
  );
  if (assignee !== undefined) await countWorkload(tx, assignee, 1);
  await recordCreation(tx, created, ctx);
  return created;
}

/**
 * The moves of a task just inserted: its creation, PENDING → ASSIGNED (checked by the state
 * machine) when it was created with an assignee, and ASSIGNED → IN_PROGRESS when it was dispatched
 * straight to a connection. The caller counts the assignee's workload.
 */
export async function recordCreation(tx: StoreTx, created: Task, ctx: TaskContext): Promise<void> {
  const pending: Task = { ...created, status: 'PENDING', assignee: null, assignedAt: null };
  await record(tx, pending, null, 'PENDING', ctx, null, created.createdAt, {
    taskType: created.taskType,
    priority: created.priority,
    workspace: created.workspace,
    parentId: created.parentId,
  });
  if (created.assignee === null) return;
  const assigned: Task = { ...created, status: 'ASSIGNED', attempts: 0, startedAt: null, leaseOwner: null };
  transition(pending, 'ASSIGNED');
  await record(tx, assigned, 'PENDING', 'ASSIGNED', ctx, created.why, created.createdAt, {
    assignee: created.assignee,
    attempts: 0,
  });
  if (created.status !== 'IN_PROGRESS') return;
  // Dispatched directly: the first attempt started with the creation, under its connection's lease.
  transition(assigned, 'IN_PROGRESS');
  await record(
    tx,
    created,
    'ASSIGNED',
    'IN_PROGRESS',
    { actor: { type: 'agent', id: created.assignee } },
    null,
    created.createdAt,
    {
      assignee: created.assignee,
      attempts: created.attempts,
    },
  );
}

/**
 * Results: IN_PROGRESS → COMPLETED for many tasks in one statement. The same move as `move`
 * (checked by the state machine, recorded one by one, workloads counted); for tasks without a
 * parent — a subtask's completion may settle its parent, which `move` does.
 */
export async function completeAttempts(
  tx: StoreTx,
  items: ReadonlyArray<{
    task: Task;
    output: unknown;
    usage?: { inputTokens: number; outputTokens: number; cost: number };
  }>,
  ctxOf: (task: Task) => TaskContext,
): Promise<Task[]> {
  const at = new Date();
  for (const { task } of items) {
    transition(task, 'COMPLETED');
    if (task.parentId !== null) throw new Error(`completeAttempts: task ${task.id} has a parent; use move`);
  }
  const moved = await tx.tasks.completeAttempts(
    items.map(({ task, output, usage }) => ({
      id: task.id,
      output,
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
      cost: usage?.cost ?? 0,
    })),
    at,
  );
  if (moved !== items.length) throw new Error(`results completed ${moved} of the ${items.length} tasks held`);
  const completed: Task[] = [];
  for (const { task, output, usage } of items) {
    const updated: Task = {
      ...task,
      status: 'COMPLETED',
      output: output ?? null,
      inputTokens: task.inputTokens + (usage?.inputTokens ?? 0),
      outputTokens: task.outputTokens + (usage?.outputTokens ?? 0),
      cost: task.cost + (usage?.cost ?? 0),
      completedAt: at,
      updatedAt: at,
      durationMs: task.startedAt ? at.getTime() - task.startedAt.getTime() : null,
      leaseOwner: null,
      leaseExpiresAt: null,
    };
    if (task.assignee) await countWorkload(tx, task.assignee, -1);
    await record(tx, updated, task.status, 'COMPLETED', ctxOf(task), null, at, {
      ...(updated.assignee ? { assignee: updated.assignee } : {}),
      attempts: updated.attempts,
    });
    completed.push(updated);
  }
  return completed;
}

/**
 * A claim: ASSIGNED → IN_PROGRESS for up to `query.limit` tasks in one statement, under one lease
 * owner. The same move as `move` (checked by the state machine, recorded one by one), written at
 * once because a claim takes tasks by the dozen: the statement picks and starts them, and each is
 * checked against the state machine from the state it was picked in (ASSIGNED, one attempt fewer)
 * before the transaction goes on; a refused move throws and rolls the claim back. The workloads do
 * not change (both statuses count).
 */
export async function claimAttempts(
  tx: StoreTx,
  query: { assignees?: readonly string[]; limit: number; now: Date },
  lease: { owner: string; expiresAt: Date; at: Date },
  ctxOf: (task: Task) => TaskContext,
): Promise<Task[]> {
  const started = await tx.tasks.claim(query, lease);
  for (const updated of started) {
    const picked: Task = { ...updated, status: 'ASSIGNED', attempts: updated.attempts - 1 };
    const next = transition(picked, 'IN_PROGRESS');
    if (next.attempts !== updated.attempts) {
      throw new Error(`claim of task ${updated.id}: attempt ${updated.attempts}, expected ${next.attempts}`);
    }
    await record(tx, updated, 'ASSIGNED', next.status, ctxOf(picked), null, lease.at, {
      ...(updated.assignee ? { assignee: updated.assignee } : {}),
      attempts: updated.attempts,
    });
  }
  return started;
}

/**
 * The transition row, the audit entry and the event of one move (or of the creation), written at
 * the end of the transaction (see inTaskTransaction).
 */
export async function record(
  tx: StoreTx,
  task: Task,
  from: TaskStatus | null,
  to: TaskStatus,
  ctx: TaskContext,
  reason: string | null,
  at: Date,
  metadata: Record<string, unknown>,
): Promise<void> {
  const transition: TaskTransition = { taskId: task.id, from, to, actor: ctx.actor, reason, at };
  const entry: NewAuditEntry = {
    actor: ctx.actor,
    action: ACTION[to],
    entityType: 'task',
    entityId: task.id,
    metadata: { from, to, ...(reason === null ? {} : { reason }), ...metadata },
    ip: ctx.ip ?? null,
    time: at,
  };
  const state = pending.get(tx);
  if (!state) {
    // Outside inTaskTransaction (a caller's own store.transaction): written at once, no event.
    await tx.tasks.appendTransitions([transition]);
    await tx.audit.append([entry]);
    return;
  }
  state.transitions.push(transition);
  state.audit.push(entry);
  state.events.push({
    id: task.id,
    status: to,
    from,
    assignee: task.assignee,
    workspace: task.workspace,
    parentId: task.parentId,
    taskType: task.taskType,
    attempts: task.attempts,
    reason,
    at,
    ...((to === 'COMPLETED' || to === 'FAILED') && task.durationMs !== null
      ? { durationMs: task.durationMs }
      : {}),
  });
}

/**
 * Fails the attempt in progress for good: no retry, even with attempts left (a deadline, a
 * binding that cannot work, subtasks that failed). The attempts are closed (`maxAttempts` =
 * `attempts`), so that the task is final to everyone who asks `isTerminal`.
 */
export function failFinally(
  tx: StoreTx,
  task: Task,
  ctx: TaskContext,
  error: { code: string; message: string },
  extra: MoveChanges = {},
): Promise<Task> {
  const now = new Date();
  return move(tx, { ...task, maxAttempts: task.attempts }, 'FAILED', ctx, error.message, {
    ...extra,
    error,
    maxAttempts: task.attempts,
    completedAt: now,
    awaitingChildren: false,
    durationMs: task.startedAt ? now.getTime() - task.startedAt.getTime() : null,
  });
}

/** Cancels every open task below `task` (those already finished stay as they are). */
export async function cancelDescendants(tx: StoreTx, task: Task, ctx: TaskContext): Promise<void> {
  const reason = `parent ${task.id} ${task.status === 'CANCELLED' ? 'cancelled' : 'ended'}`;
  let frontier = [task.id];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const parentId of frontier) {
      for (const child of await tx.tasks.children(parentId)) {
        next.push(child.id);
        const locked = await tx.tasks.getForUpdate(child.id);
        if (locked && allowedTransitions(locked).includes('CANCELLED')) {
          await move(tx, locked, 'CANCELLED', ctx, reason, {});
        }
      }
    }
    frontier = next;
  }
}

/**
 * A parent that waits for its subtasks (`awaitingChildren`) settles once they have: by its
 * `childPolicy`, `all` (default) completes when every subtask completed and fails at the first
 * that failed for good or was cancelled (cancelling the others); `any` completes when all are done
 * and at least one completed. The parent's output lists its subtasks' outputs.
 */
export async function settleParent(tx: StoreTx, parentId: string): Promise<void> {
  const parent = await tx.tasks.getForUpdate(parentId);
  if (!parent?.awaitingChildren || parent.status !== 'IN_PROGRESS') return;
  const children = await tx.tasks.children(parentId);
  const done = children.filter(isTerminal);
  const completed = done.filter((child) => child.status === 'COMPLETED');
  const ctx: TaskContext = { actor: SYSTEM_ACTOR };
  const policy = parent.childPolicy ?? 'all';
  if (policy === 'all') {
    const lost = done.find((child) => child.status !== 'COMPLETED');
    if (lost) {
      const failed = await failFinally(tx, parent, ctx, {
        code: 'subtasks_failed',
        message: `subtask ${lost.id} ended ${lost.status}${lost.error ? `: ${lost.error.message}` : ''}`,
      });
      await cancelDescendants(tx, failed, ctx);
      return;
    }
  }
  if (done.length < children.length) return;
  if (completed.length === 0) {
    await failFinally(tx, parent, ctx, {
      code: 'subtasks_failed',
      message: `none of the ${children.length} subtasks completed`,
    });
    return;
  }
  const now = new Date();
  await move(tx, parent, 'COMPLETED', ctx, `${completed.length} of ${children.length} subtasks completed`, {
    output: {
      subtasks: children.map((child) => ({
        id: child.id,
        taskType: child.taskType,
        status: child.status,
        output: child.output,
        ...(child.error ? { error: child.error } : {}),
      })),
    },
    awaitingChildren: false,
    completedAt: now,
    durationMs: parent.startedAt ? now.getTime() - parent.startedAt.getTime() : null,
  });
}

export function taskNotFound(id: string): ZiggieError {
  return new ZiggieError('TASK_NOT_FOUND', `no task with id "${id}"`, { task: id });
}

export function delegationRefused(
  rule: DelegationRule,
  message: string,
  details: Record<string, unknown>,
): ZiggieError {
  return new ZiggieError('TASK_DELEGATION_REFUSED', message, { rule, ...details });
}
