import type { z } from 'zod';
import type { SubmitTaskSchema, Task, TaskLogLine, TaskTransition } from '../../src/core/task.ts';

/**
 * Wire types, derived from the server's zod schemas and task shape (src/core). The SDK imports
 * them from the repository's src/ for now; a published package would carry them itself.
 */

/** A value as JSON carries it: times are ISO 8601 strings. */
export type Jsonified<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

/** A task as the REST API answers it. */
export type TaskJson = Jsonified<Task>;

/** `GET /api/tasks/<id>`: the task with its status history and log. */
export type TaskDetailJson = TaskJson & {
  transitions: Array<Jsonified<TaskTransition>>;
  log: Array<Jsonified<TaskLogLine> & { id: number }>;
};

/** What `POST /api/tasks` accepts (defaults filled by the server). */
export type SubmitTaskInput = z.input<typeof SubmitTaskSchema>;

/** A page of a listing. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** What a tool call answered (an MCP `CallToolResult`). */
export interface ToolResult {
  content: Array<Record<string, unknown>>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}
