import type { TaskStatus } from '../core/task-states.ts';

/**
 * The one event map of the service (DESIGN.md "Events"): every change of state is one typed event.
 * Events are small: they say what changed; who needs the whole thing reads it from the store.
 */
export interface ZiggieEvents {
  /** A task was created or its status, assignee or lease changed (after the commit). */
  'task.changed': TaskChangedEvent;
  /** Lines the executor of an attempt wrote (already stored). */
  'task.log': TaskLogEvent;
  /** Progress an executor or a remote agent reported (not stored). */
  'task.progress': TaskProgressEvent;
}

export interface TaskChangedEvent {
  id: string;
  status: TaskStatus;
  /** The status before; null when the task was just created. */
  from: TaskStatus | null;
  assignee: string | null;
  workspace: string | null;
  parentId: string | null;
  taskType: string;
  attempts: number;
  reason: string | null;
  at: Date;
  /** How long the attempt ran, on a move into COMPLETED or FAILED (when it started). */
  durationMs?: number;
}

export interface TaskLogEvent {
  taskId: string;
  attempt: number;
  stream: 'stdout' | 'stderr' | 'info';
  text: string;
  at: Date;
}

export interface TaskProgressEvent {
  taskId: string;
  progress: number;
  total?: number;
  message?: string;
  at: Date;
}

export type ZiggieTopic = keyof ZiggieEvents;
