import type { z } from 'zod';
import type { Bus } from '../bus/bus.ts';
import { compareForService, type WorkspacePriority } from '../core/assignment.ts';
import { ZiggieError } from '../core/errors.ts';
import { type DelegationPolicy, isAbove } from '../core/policy.ts';
import {
  ApproveTaskSchema,
  CancelTaskSchema,
  CompleteTaskSchema,
  FailTaskSchema,
  RejectTaskSchema,
  RequestReviewSchema,
  type Task,
  type TaskLogLine,
  type TaskTransition,
} from '../core/task.ts';
import { transition } from '../core/task-states.ts';

import type { Page } from '../store/cursor.ts';
import type { Store, StoreTx, TaskFilter } from '../store/types.ts';
import { type AssignRequest, type AssignRules, assignTask, delegator } from './assign-task.ts';
import type { DirectDispatcher } from './direct-dispatch.ts';
import { GroupCommit } from './group-commit.ts';
import type { TaskContext } from './task-context.ts';
import { type RetryBackoff, TaskLeases } from './task-leases.ts';
import { cancelDescendants, inTaskTransaction, move, taskNotFound } from './task-moves.ts';
import { TaskSubmitter } from './task-submit.ts';

export type { AssignRequest } from './assign-task.ts';
export type { TaskContext } from './task-context.ts';

export interface TaskServiceOptions {
  /** How deep subtasks may nest (a top-level task is depth 0). Default 8. */
  maxDepth?: number;
  /** Allow delegating to the same tier (the design's "unless a policy says so"). Default: no. */
  delegation?: DelegationPolicy;
  /** How many candidate agents assignment by skills looks at. Default 1,000. */
  candidateLimit?: number;
  /** Where task events go once their transaction commits. */
  bus?: Bus;
  /** Why an agent may take no new task now (budgets); see AssignRules.blocked. */
  blocked?: AssignRules['blocked'];
  /** How long a retry waits before it may be claimed again. */
  backoff?: RetryBackoff;
  /** Hands a task being submitted to a named agent straight to one of its connections (AgentHub). */
  dispatch?: DirectDispatcher;
}

/** A task with its status history and log, as `GET /api/tasks/<id>` shows it. */
export interface TaskDetail extends Task {
  transitions: TaskTransition[];
  log: Array<TaskLogLine & { id: number }>;
}

/**
 * The orchestrator's tasks: submit (idempotent by key), assign (named, or by skills with
 * `chooseAgent`), start, complete, fail (retried while attempts remain), review, approve, reject
 * (reassigned with the feedback), cancel (with every open subtask). Every status change goes
 * through `transition()` and commits in one transaction with its `task_transitions` row and its
 * audit entry.
 */
export class TaskService {
  readonly #store: Store;
  readonly #bus: Bus | undefined;
  /** Submits (and attempt outcomes, in TaskLeases) commit in groups under load. */
  readonly #group: GroupCommit;
  readonly #submitter: TaskSubmitter;
  readonly rules: AssignRules;
  /** Attempts, leases, deadlines (runners and remote agents use these). */
  readonly leases: TaskLeases;

  constructor(store: Store, options: TaskServiceOptions = {}) {
    this.#store = store;
    this.#bus = options.bus;
    this.rules = {
      maxDepth: options.maxDepth ?? 8,
      policy: options.delegation ?? {},
      candidateLimit: options.candidateLimit ?? 1000,
      ...(options.blocked ? { blocked: options.blocked } : {}),
    };
    this.#group = new GroupCommit((fn) => this.transaction(fn));
    this.#submitter = new TaskSubmitter(this.#group, this.rules, options.dispatch);
    this.leases = new TaskLeases(store, {
      group: this.#group,
      rules: this.rules,
      ...(options.bus ? { bus: options.bus } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
  }

  /** Resolves once every change asked for has been written (call before closing the store). */
  async drain(): Promise<void> {
    await this.#submitter.idle();
    await this.leases.idle();
    await this.#group.idle();
  }

  /** Runs `fn` in one transaction; the task events it produced are published after the commit. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return inTaskTransaction(this.#store, this.#bus, fn);
  }

  list(filter: TaskFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Task>> {
    return this.#store.tasks.list(filter, page);
  }

  /** The review inbox: tasks waiting for approval, newest first. */
  approvals(filter: { workspace?: string }, page: { limit: number; cursor?: string | null }) {
    return this.#store.tasks.list({ ...filter, status: 'REVIEW_REQUESTED' }, page);
  }

  async get(id: string): Promise<TaskDetail> {
    const task = await this.#store.tasks.get(id);
    if (!task) throw taskNotFound(id);
    return {
      ...task,
      transitions: await this.#store.tasks.transitions(id),
      log: await this.#store.tasks.logs(id, { limit: 1000 }),
    };
  }

  /**
   * Creates a task (PENDING) and, when `agentId` or `skills` is given, assigns it in the same
   * transaction (see TaskSubmitter).
   */
  submit(input: unknown, ctx: TaskContext): Promise<{ task: Task; created: boolean }> {
    return this.#submitter.submit(input, ctx);
  }

  /** Up to 1,000 tasks, all submitted or none (see TaskSubmitter). */
  submitMany(input: unknown, ctx: TaskContext): Promise<{ tasks: Task[]; created: number }> {
    return this.#submitter.submitMany(input, ctx);
  }

  /** Assigns a PENDING task; by skills, a task nobody can take stays PENDING with `why` saying so. */
  assign(id: string, request: AssignRequest, ctx: TaskContext): Promise<Task> {
    return this.#change(id, (tx, task) => {
      // Refused before anything is written: by skills, a task nobody fits would otherwise only get a new `why`.
      transition(task, 'ASSIGNED');
      return assignTask(tx, task, request, ctx, this.rules);
    });
  }

  /**
   * Tries again to assign PENDING tasks that name skills (capacity freed up, an agent came back):
   * each as its creator would, so that the delegation rules are those of the submit, in the order
   * waiting work is served (`compareForService`). Answers how many got an agent. The runner calls it
   * when capacity frees up.
   */
  async assignPending(limit = 50): Promise<number> {
    const page = await this.#store.tasks.list({ status: 'PENDING' }, { limit: limit * 4 });
    const waiting = page.items.filter((task) => task.requiredSkills.length > 0);
    // Served as DESIGN.md says when capacity is short: P0 workspaces first, then priority, then age.
    const ranks = new Map<string, WorkspacePriority | undefined>();
    for (const name of new Set(waiting.flatMap((task) => (task.workspace ? [task.workspace] : [])))) {
      ranks.set(name, (await this.#store.workspaces.get(name))?.priority);
    }
    const order = (task: Task) => ({
      priority: task.priority,
      createdAt: task.createdAt.getTime(),
      ...(task.workspace && ranks.get(task.workspace)
        ? { workspacePriority: ranks.get(task.workspace) }
        : {}),
    });
    waiting.sort((a, b) => compareForService(order(a), order(b)));
    let assigned = 0;
    for (const candidate of waiting.slice(0, limit)) {
      const task = await this.#change(candidate.id, (tx, task) =>
        task.status === 'PENDING'
          ? assignTask(
              tx,
              task,
              { skills: task.requiredSkills, ...(task.tier ? { tier: task.tier } : {}) },
              { actor: task.creator },
              this.rules,
            )
          : Promise.resolve(task),
      ).catch(() => undefined);
      if (task?.status === 'ASSIGNED') assigned++;
    }
    return assigned;
  }

  /** The assignee starts work (ASSIGNED → IN_PROGRESS; counts an attempt). */
  start(id: string, ctx: TaskContext): Promise<Task> {
    return this.#change(id, (tx, task) => {
      assertAssignee(task, ctx, 'start');
      return move(tx, task, 'IN_PROGRESS', ctx, null, { startedAt: new Date() });
    });
  }

  /** The assignee's result (IN_PROGRESS → COMPLETED), with the tokens and cost it took. */
  async complete(id: string, input: unknown, ctx: TaskContext): Promise<Task> {
    const { output, usage } = CompleteTaskSchema.parse(input);
    return this.#change(id, (tx, task) => {
      assertAssignee(task, ctx, 'complete');
      const now = new Date();
      return move(tx, task, 'COMPLETED', ctx, null, {
        output,
        completedAt: now,
        durationMs: task.startedAt ? now.getTime() - task.startedAt.getTime() : null,
        ...(usage ? addUsage(task, usage) : {}),
      });
    });
  }

  /**
   * The attempt failed (IN_PROGRESS → FAILED); while attempts remain the task is assigned again
   * (to the same agent, claimable after the retry backoff).
   */
  async fail(id: string, input: unknown, ctx: TaskContext): Promise<Task> {
    const { error } = FailTaskSchema.parse(input);
    return this.#change(id, async (tx, task) => {
      assertAssignee(task, ctx, 'fail');
      const now = new Date();
      const failed = await move(tx, task, 'FAILED', ctx, error.message, {
        error,
        durationMs: task.startedAt ? now.getTime() - task.startedAt.getTime() : null,
      });
      return this.leases.retry(tx, failed, ctx, {});
    });
  }

  /** The assignee asks for review of its output (IN_PROGRESS → REVIEW_REQUESTED). */
  async requestReview(id: string, input: unknown, ctx: TaskContext): Promise<Task> {
    const { output } = RequestReviewSchema.parse(input);
    return this.#change(id, (tx, task) => {
      assertAssignee(task, ctx, 'request review of');
      return move(tx, task, 'REVIEW_REQUESTED', ctx, null, { output, reviewRequestedAt: new Date() });
    });
  }

  /** Approves the output under review: REVIEW_REQUESTED → APPROVED → COMPLETED. */
  async approve(id: string, input: unknown, ctx: TaskContext): Promise<Task> {
    const { feedback } = ApproveTaskSchema.parse(input);
    return this.#change(id, async (tx, task) => {
      await assertReviewer(tx, task, ctx);
      const now = new Date();
      const approved = await move(tx, task, 'APPROVED', ctx, feedback ?? null, {
        reviewer: ctx.actor,
        reviewedAt: now,
        ...(feedback === undefined ? {} : { reviewFeedback: feedback }),
      });
      return move(tx, approved, 'COMPLETED', ctx, 'approved', {
        completedAt: now,
        durationMs: task.startedAt ? now.getTime() - task.startedAt.getTime() : null,
      });
    });
  }

  /** Rejects with feedback: REVIEW_REQUESTED → REJECTED → ASSIGNED to the same agent (rejections + 1). */
  async reject(id: string, input: unknown, ctx: TaskContext): Promise<Task> {
    const { feedback } = RejectTaskSchema.parse(input);
    return this.#change(id, async (tx, task) => {
      await assertReviewer(tx, task, ctx);
      const now = new Date();
      const rejected = await move(tx, task, 'REJECTED', ctx, feedback, {
        reviewer: ctx.actor,
        reviewedAt: now,
        reviewFeedback: feedback,
      });
      return move(tx, rejected, 'ASSIGNED', ctx, 'rework after rejection', { assignedAt: now });
    });
  }

  /** Cancels a task and every open subtask below it (a subtask already finished stays as it is). */
  async cancel(id: string, input: unknown, ctx: TaskContext): Promise<Task> {
    const { reason } = CancelTaskSchema.parse(input);
    return this.#change(id, async (tx, task) => {
      const cancelled = await move(tx, task, 'CANCELLED', ctx, reason ?? null, {});
      await cancelDescendants(tx, cancelled, ctx);
      return cancelled;
    });
  }

  /** Runs `fn` on the task, locked, in one transaction. */
  #change(id: string, fn: (tx: StoreTx, task: Task) => Promise<Task>): Promise<Task> {
    return this.transaction(async (tx) => {
      const task = await tx.tasks.getForUpdate(id);
      if (!task) throw taskNotFound(id);
      return fn(tx, task);
    });
  }
}

/** An agent reports only on its own tasks; users (operators) may act on any. */
function assertAssignee(task: Task, ctx: TaskContext, what: string): void {
  if (ctx.actor.type !== 'agent' || task.assignee === ctx.actor.id) return;
  throw new ZiggieError(
    'PERMISSION_DENIED',
    `only the assignee (${task.assignee ?? 'nobody yet'}) may ${what} task ${task.id}`,
    { task: task.id, assignee: task.assignee },
  );
}

/** An agent reviews only work of a lower tier than its own, and never its own. */
async function assertReviewer(tx: StoreTx, task: Task, ctx: TaskContext): Promise<void> {
  if (ctx.actor.type !== 'agent') return;
  const reviewer = await delegator(tx, ctx.actor);
  const assignee = task.assignee ? await tx.agents.get(task.assignee) : undefined;
  if (reviewer && task.assignee !== reviewer.id && (!assignee || isAbove(reviewer.tier, assignee.tier)))
    return;
  throw new ZiggieError(
    'PERMISSION_DENIED',
    `${ctx.actor.id} may not review task ${task.id}: a reviewer ranks above the assignee (${task.assignee ?? 'none'})`,
    { task: task.id, assignee: task.assignee },
  );
}

function addUsage(task: Task, usage: z.infer<typeof CompleteTaskSchema>['usage'] & object) {
  return {
    inputTokens: task.inputTokens + usage.inputTokens,
    outputTokens: task.outputTokens + usage.outputTokens,
    cost: task.cost + usage.cost,
  };
}
