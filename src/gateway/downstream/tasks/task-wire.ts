import {
  CancelTaskRequestV2Schema,
  type CreateTaskResultV2,
  type DetailedTaskV2,
  GetTaskRequestV2Schema,
  InputResponsesV2Schema,
  TASKS_EXTENSION_ID_V2,
  UpdateTaskRequestV2Schema,
} from '@modelcontextprotocol/ext-tasks/core/v2';
import type { TaskSnapshot } from './live-task.ts';

/**
 * The 2026-07-28 wire of the Tasks extension (SEP-2663), from the official package's schemas:
 * the capability key, the request params the handlers accept, and the task shapes they answer.
 */

/** The extension's key in `capabilities.extensions` (both sides declare `{}`). */
export const TASKS_EXTENSION = TASKS_EXTENSION_ID_V2;

export const GetTaskParams = GetTaskRequestV2Schema.shape.params;
/** The SDK lifts `inputResponses` out of the params (as for a multi-round retry): see `InputResponses`. */
export const UpdateTaskParams = UpdateTaskRequestV2Schema.shape.params.omit({ inputResponses: true });
export const InputResponses = InputResponsesV2Schema;
export const CancelTaskParams = CancelTaskRequestV2Schema.shape.params;

/** What `tasks/get` answers: the task with its status-specific field (questions, result or error). */
export function detailedTask(task: TaskSnapshot, pollIntervalMs: number): DetailedTaskV2 {
  const base = {
    taskId: task.id,
    ...(task.statusMessage === undefined ? {} : { statusMessage: task.statusMessage }),
    createdAt: task.createdAt.toISOString(),
    lastUpdatedAt: task.updatedAt.toISOString(),
    ttlMs: task.ttlMs,
    pollIntervalMs,
  };
  switch (task.status) {
    case 'input_required':
      return { ...base, status: task.status, inputRequests: (task.inputRequests ?? {}) as never };
    case 'completed':
      // The result of the call as a plain `tools/call` would have answered it, discriminator included.
      return { ...base, status: task.status, result: { ...task.result, resultType: 'complete' } as never };
    case 'failed':
      return {
        ...base,
        status: task.status,
        error: (task.error ?? { code: -32603, message: 'the task failed' }) as never,
      };
    default:
      return { ...base, status: task.status };
  }
}

/** What a task-augmented `tools/call` answers: `resultType: "task"` and the task's seed state. */
export function createTaskResult(task: TaskSnapshot, pollIntervalMs: number): CreateTaskResultV2 {
  return {
    resultType: 'task',
    taskId: task.id,
    status: task.status,
    ...(task.statusMessage === undefined ? {} : { statusMessage: task.statusMessage }),
    createdAt: task.createdAt.toISOString(),
    lastUpdatedAt: task.updatedAt.toISOString(),
    ttlMs: task.ttlMs,
    pollIntervalMs,
  };
}
