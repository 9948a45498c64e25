import { ZiggieError } from './errors.ts';

/**
 * The task state machine (DESIGN.md "Domain facts"): the only legal transitions a task's status
 * can take. Everything that changes a task's status goes through `transition()`; nothing else
 * writes a status.
 */

export const TASK_STATUSES = [
  'PENDING',
  'ASSIGNED',
  'IN_PROGRESS',
  'REVIEW_REQUESTED',
  'APPROVED',
  'REJECTED',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** From each status, where a task may go next. */
export const TASK_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  PENDING: ['ASSIGNED', 'CANCELLED'],
  ASSIGNED: ['IN_PROGRESS', 'CANCELLED'],
  IN_PROGRESS: ['REVIEW_REQUESTED', 'COMPLETED', 'FAILED', 'CANCELLED'],
  REVIEW_REQUESTED: ['APPROVED', 'REJECTED', 'CANCELLED'],
  APPROVED: ['COMPLETED'],
  REJECTED: ['ASSIGNED'],
  FAILED: ['ASSIGNED'],
  COMPLETED: [],
  CANCELLED: [],
};

/** What the state machine needs to know about a task to decide. */
export interface TaskCounters {
  status: TaskStatus;
  /** Attempts made so far (an assignment that started counts as one). */
  attempts: number;
  maxAttempts: number;
  rejections: number;
}

/** The status after a transition, and the counters it changes. */
export type TaskTransitionResult = TaskCounters;

export function isTerminal(task: Pick<TaskCounters, 'status' | 'attempts' | 'maxAttempts'>): boolean {
  if (task.status === 'COMPLETED' || task.status === 'CANCELLED') return true;
  // FAILED is final once no attempt remains; before that it may be retried.
  return task.status === 'FAILED' && task.attempts >= task.maxAttempts;
}

/** Where `task` may go from here, taking the attempts left into account. */
export function allowedTransitions(task: TaskCounters): readonly TaskStatus[] {
  if (task.status === 'FAILED' && task.attempts >= task.maxAttempts) return [];
  return TASK_TRANSITIONS[task.status];
}

/**
 * Moves `task` to `to`, or refuses with `TASK_TRANSITION_INVALID` naming the current state, the
 * asked state and the allowed ones. Reassigning after a rejection counts the rejection; starting
 * work (ASSIGNED → IN_PROGRESS) counts an attempt.
 */
export function transition(task: TaskCounters, to: TaskStatus): TaskTransitionResult {
  const allowed = allowedTransitions(task);
  if (!allowed.includes(to)) {
    const exhausted = task.status === 'FAILED' && task.attempts >= task.maxAttempts;
    throw new ZiggieError(
      'TASK_TRANSITION_INVALID',
      `a task in ${task.status} cannot move to ${to}; ${
        allowed.length > 0
          ? `allowed: ${allowed.join(', ')}`
          : exhausted
            ? `FAILED is final: all ${task.maxAttempts} attempts were used`
            : `${task.status} is terminal`
      }`,
      { from: task.status, to, allowed: [...allowed] },
    );
  }
  return {
    status: to,
    attempts: task.attempts + (task.status === 'ASSIGNED' && to === 'IN_PROGRESS' ? 1 : 0),
    maxAttempts: task.maxAttempts,
    rejections: task.rejections + (task.status === 'REJECTED' && to === 'ASSIGNED' ? 1 : 0),
  };
}
