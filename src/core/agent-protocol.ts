import { z } from 'zod';
import { TASK_PRIORITIES, TaskErrorSchema, TaskIdSchema, TaskUsageSchema } from './task.ts';

/**
 * The remote-agent protocol (issue 4, `remote` executor): JSON messages over the WebSocket
 * `GET /api/agents/connect`, shared by the server (orchestrator/agent-hub.ts) and the SDK
 * (sdk/src/agent.ts). Built for throughput: tasks arrive several per message, an agent may send
 * any number of messages as one `batch`, and one `heartbeat` extends every lease the connection
 * holds. Version 1; a change that breaks either side bumps `AGENT_PROTOCOL_VERSION`.
 */

export const AGENT_PROTOCOL_VERSION = 1;

/** The path agents connect to. */
export const AGENT_CONNECT_PATH = '/api/agents/connect';

/** A task as an agent receives it: what it needs to do the work (the full task is `GET /api/tasks/<id>`). */
export const RemoteTaskSchema = z.strictObject({
  id: TaskIdSchema,
  taskType: z.string(),
  input: z.unknown(),
  /** This attempt's number (1 for the first). */
  attempt: z.number().int().min(1),
  maxAttempts: z.number().int().min(1),
  priority: z.enum(TASK_PRIORITIES),
  workspace: z.string().nullable(),
  parentId: z.string().nullable(),
  depth: z.number().int().min(0),
  requiredSkills: z.array(z.string()),
  /** ISO 8601, or null. */
  deadline: z.string().nullable(),
  /** The feedback of the last rejection, when the task comes back for rework. */
  reviewFeedback: z.string().nullable(),
});
export type RemoteTask = z.infer<typeof RemoteTaskSchema>;

// ---- agent → server ------------------------------------------------------------------------------

/**
 * First message of every connection, answered by the first `tasks`. `concurrency`: how many tasks
 * the agent takes at once (default: its registry `capacity`). `held`: after a reconnect, the tasks
 * the agent is still working on; the server keeps them (when this node still holds their lease)
 * or answers `cancel` for each it cannot keep.
 */
export const ReadyMessageSchema = z.strictObject({
  type: z.literal('ready'),
  concurrency: z.number().int().min(1).max(10_000).optional(),
  held: z.array(TaskIdSchema).max(10_000).optional(),
  /** Who is speaking (`@ziggie/sdk/0.1.0`), for logs. */
  client: z.string().max(200).optional(),
});

/** Extends the lease of every task the connection holds (send every `hello.heartbeatMs`). */
export const HeartbeatMessageSchema = z.strictObject({ type: z.literal('heartbeat') });

/** Progress of a task, for watchers (published on the bus as `task.progress`; not stored). */
export const ProgressMessageSchema = z.strictObject({
  type: z.literal('progress'),
  taskId: TaskIdSchema,
  progress: z.number().finite(),
  total: z.number().finite().optional(),
  message: z.string().max(1000).optional(),
});

export const LOG_STREAMS = ['stdout', 'stderr', 'info'] as const;

/** Lines for the task's log (stored, shown by `GET /api/tasks/<id>`). */
export const LogMessageSchema = z.strictObject({
  type: z.literal('log'),
  taskId: TaskIdSchema,
  lines: z
    .array(z.strictObject({ stream: z.enum(LOG_STREAMS).default('info'), text: z.string().max(100_000) }))
    .min(1)
    .max(1000),
});

/** The attempt succeeded: the task's output and what it cost. */
export const ResultMessageSchema = z.strictObject({
  type: z.literal('result'),
  taskId: TaskIdSchema,
  output: z.unknown().default(null),
  usage: TaskUsageSchema.optional(),
});

/** The attempt failed; `retryable: false` fails the task for good even with attempts left. */
export const FailureMessageSchema = z.strictObject({
  type: z.literal('failure'),
  taskId: TaskIdSchema,
  error: TaskErrorSchema,
  retryable: z.boolean().default(true),
});

/**
 * The agent hands the task over to the subtasks it delegated: the task settles when they do
 * (its `childPolicy`) and leaves the connection. Answered with `awaiting` (or an `error`).
 */
export const AwaitSubtasksMessageSchema = z.strictObject({
  type: z.literal('await_subtasks'),
  taskId: TaskIdSchema,
});

/** Every message an agent may send, except `batch`. */
export const AgentSingleMessageSchema = z.discriminatedUnion('type', [
  ReadyMessageSchema,
  HeartbeatMessageSchema,
  ProgressMessageSchema,
  LogMessageSchema,
  ResultMessageSchema,
  FailureMessageSchema,
  AwaitSubtasksMessageSchema,
]);
export type AgentSingleMessage = z.infer<typeof AgentSingleMessageSchema>;
/** What the SDK builds (before zod fills defaults). */
export type AgentSingleMessageInput = z.input<typeof AgentSingleMessageSchema>;

/**
 * Several messages in one frame, handled in order. Each is validated on its own: a bad one is
 * answered with an `error` naming its index, the others still count.
 */
export const BatchMessageSchema = z.strictObject({
  type: z.literal('batch'),
  messages: z.array(z.unknown()).min(1).max(10_000),
});

export type ReadyMessage = z.infer<typeof ReadyMessageSchema>;
export type ProgressMessage = z.infer<typeof ProgressMessageSchema>;
export type LogMessage = z.infer<typeof LogMessageSchema>;
export type ResultMessage = z.infer<typeof ResultMessageSchema>;
export type FailureMessage = z.infer<typeof FailureMessageSchema>;

// ---- server → agent ------------------------------------------------------------------------------

/** Sent once the connection is open. The agent answers `ready`. */
export const HelloMessageSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.number().int(),
  agentId: z.string(),
  nodeId: z.string(),
  connectionId: z.string(),
  /** Send a `heartbeat` this often while holding tasks. */
  heartbeatMs: z.number().int().positive(),
  /** A task whose lease is not extended for this long is failed (`lease_expired`) and retried elsewhere. */
  leaseMs: z.number().int().positive(),
  /** The concurrency used when `ready` names none (the agent's registry capacity). */
  concurrency: z.number().int().min(0),
  /** The largest frame the server takes (a bigger one closes the connection with 1009). */
  maxMessageBytes: z.number().int().positive(),
});

/** Tasks to run now; each is IN_PROGRESS with a lease held by this connection. */
export const TasksMessageSchema = z.strictObject({
  type: z.literal('tasks'),
  tasks: z.array(RemoteTaskSchema),
});

/** Stop working on a task (it was cancelled, finished by someone else, or its lease is gone). */
export const CancelMessageSchema = z.strictObject({
  type: z.literal('cancel'),
  taskId: z.string(),
  reason: z.string(),
});

/** `await_subtasks` was accepted: the task is no longer the connection's. */
export const AwaitingMessageSchema = z.strictObject({
  type: z.literal('awaiting'),
  taskId: z.string(),
});

/**
 * Something the agent sent was refused. `code` is one of Ziggie's error codes
 * (`VALIDATION_FAILED`, `TASK_LEASE_LOST`, …); `about` the type of the message it answers, and
 * `taskId` its task, when known. The connection stays open.
 */
export const ErrorMessageSchema = z.strictObject({
  type: z.literal('error'),
  code: z.string(),
  message: z.string(),
  about: z.string().optional(),
  taskId: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const ServerMessageSchema = z.discriminatedUnion('type', [
  HelloMessageSchema,
  TasksMessageSchema,
  CancelMessageSchema,
  AwaitingMessageSchema,
  ErrorMessageSchema,
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type HelloMessage = z.infer<typeof HelloMessageSchema>;
export type CancelMessage = z.infer<typeof CancelMessageSchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;

/** A zod failure as one line naming each path (`messages.2.taskId: not a task id`). */
export function describeProtocolIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
      return `${path || '(message)'}: ${issue.message}`;
    })
    .join('; ');
}
