import { z } from 'zod';
import type { Actor } from './access.ts';
import { AgentIdSchema } from './agent.ts';
import type { TaskPriority } from './assignment.ts';
import type { Tier } from './policy.ts';
import type { TaskStatus } from './task-states.ts';

/**
 * Orchestrator tasks (issue 4 §1): the schemas every surface validates with and the shape a task
 * has once stored. The status only ever changes through `transition()` (task-states.ts).
 */

export const TASK_PRIORITIES = [
  'LOW',
  'MEDIUM',
  'HIGH',
  'CRITICAL',
] as const satisfies readonly TaskPriority[];

/** Task ids appear in URLs and CLI arguments. */
export const TaskIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not a task id');

/** What a task failed with: a code when the failure has one, and a message. */
export const TaskErrorSchema = z.strictObject({
  code: z.string().min(1).max(100).optional(),
  message: z.string().min(1).max(10_000),
});
export type TaskError = z.infer<typeof TaskErrorSchema>;

/** `POST /api/tasks`: a task to run, for a named agent or by skills (or left for later). */
export const SubmitTaskSchema = z
  .strictObject({
    taskType: z.string().min(1).max(200),
    input: z.unknown().default(null),
    agentId: AgentIdSchema.optional(),
    skills: z.array(z.string().min(1).max(100)).max(50).optional(),
    /** With `skills`: only agents of this tier. */
    tier: z.enum(['L0', 'L1', 'L2', 'L3']).optional(),
    workspace: z.string().min(1).max(200).optional(),
    priority: z.enum(TASK_PRIORITIES).default('MEDIUM'),
    /** ISO 8601 time. */
    deadline: z.iso.datetime({ offset: true }).optional(),
    /** The same key from the same creator answers with the task it created first. */
    idempotencyKey: z.string().min(1).max(200).optional(),
    parentId: TaskIdSchema.optional(),
    maxAttempts: z.number().int().min(1).max(100).default(3),
    /**
     * How this task settles from its subtasks once its agent hands it over to them (`awaitSubtasks`):
     * `all` (default) completes when every subtask completed and fails when one fails for good or is
     * cancelled; `any` completes when at least one completed.
     */
    childPolicy: z.enum(['all', 'any']).optional(),
    /** `high`: Elite agents are considered for it in a P0 workspace (issue 4 §3). */
    complexity: z.enum(['normal', 'high']).optional(),
    /** A milestone: Elite agents are considered for it in a P0 workspace. */
    milestone: z.boolean().optional(),
  })
  .refine((task) => !(task.agentId && task.skills), {
    message: 'give agentId or skills, not both',
    path: ['agentId'],
  });
export type SubmitTask = z.infer<typeof SubmitTaskSchema>;

/** `POST /api/tasks/batch`: up to 1,000 tasks, submitted together or not at all. */
export const SubmitTasksSchema = z.strictObject({ tasks: z.array(SubmitTaskSchema).min(1).max(1000) });

/** Token usage an agent reports with its result. */
export const TaskUsageSchema = z.strictObject({
  inputTokens: z.number().int().min(0).default(0),
  outputTokens: z.number().int().min(0).default(0),
  /** In the deployment's currency (USD unless configured otherwise). */
  cost: z.number().min(0).default(0),
});

/** `complete`: the output, and what it cost. */
export const CompleteTaskSchema = z.strictObject({
  output: z.unknown().default(null),
  usage: TaskUsageSchema.optional(),
});

/** `fail`: why. */
export const FailTaskSchema = z.strictObject({ error: TaskErrorSchema });

/** `request review`: the output to review. */
export const RequestReviewSchema = z.strictObject({ output: z.unknown().default(null) });

/** `approve`: an optional note; `reject`: the feedback the agent gets. */
export const ApproveTaskSchema = z.strictObject({ feedback: z.string().min(1).max(10_000).optional() });
export const RejectTaskSchema = z.strictObject({ feedback: z.string().min(1).max(10_000) });
export const CancelTaskSchema = z.strictObject({ reason: z.string().min(1).max(1000).optional() });

/** A stored task. Times are `Date`s (ISO strings on the wire). */
export interface Task {
  id: string;
  taskType: string;
  status: TaskStatus;
  priority: TaskPriority;
  workspace: string | null;
  creator: Actor;
  assignee: string | null;
  /** Who approved or rejected it last. */
  reviewer: Actor | null;
  parentId: string | null;
  /** 0 for a top-level task, parent's + 1 for a subtask. */
  depth: number;
  requiredSkills: string[];
  input: unknown;
  output: unknown;
  error: TaskError | null;
  reviewFeedback: string | null;
  attempts: number;
  maxAttempts: number;
  rejections: number;
  idempotencyKey: string | null;
  deadline: Date | null;
  createdAt: Date;
  assignedAt: Date | null;
  startedAt: Date | null;
  reviewRequestedAt: Date | null;
  reviewedAt: Date | null;
  completedAt: Date | null;
  updatedAt: Date;
  /** From start to completion (of the last attempt). */
  durationMs: number | null;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  /** Why the assignee was chosen (or why nobody was). */
  why: string | null;
  /** Who runs the attempt in progress (a runner or a remote agent's connection), and until when. */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** A retry waits for its backoff: not claimed before this time. */
  notBefore: Date | null;
  childPolicy: ChildPolicy | null;
  /** The agent handed the task over to its subtasks: it settles when they do. */
  awaitingChildren: boolean;
  /** High complexity or a milestone: Elite agents are considered for it in a P0 workspace. */
  complexity: 'normal' | 'high';
  milestone: boolean;
  /** The tier it was submitted for (`tier` with `skills`): later assignments keep to it. */
  tier: Tier | null;
}

export type ChildPolicy = 'all' | 'any';

/** One line of a task's log. */
export interface TaskLogLine {
  attempt: number;
  stream: 'stdout' | 'stderr' | 'info';
  text: string;
  at: Date;
}

/** One status change of a task, as recorded beside it. `from` is null for the creation. */
export interface TaskTransition {
  taskId: string;
  from: TaskStatus | null;
  to: TaskStatus;
  actor: Actor;
  reason: string | null;
  at: Date;
}
