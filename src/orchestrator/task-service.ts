import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { Actor } from '../core/access.ts';
import { chooseAgent } from '../core/assignment.ts';
import type { AuditAction } from '../core/audit.ts';
import { checkDelegation, type DelegationRule, delegableTiers } from '../core/delegation.ts';
import { ZiggieError } from '../core/errors.ts';
import { type DelegationPolicy, isAbove, type Tier } from '../core/policy.ts';
import {
  ApproveTaskSchema,
  CancelTaskSchema,
  CompleteTaskSchema,
  FailTaskSchema,
  RejectTaskSchema,
  RequestReviewSchema,
  SubmitTaskSchema,
  type Task,
  type TaskTransition,
} from '../core/task.ts';
import { allowedTransitions, isTerminal, type TaskStatus, transition } from '../core/task-states.ts';
import type { Page } from '../store/cursor.ts';
import type { Store, StoreTx, TaskFilter, TaskUpdate } from '../store/types.ts';

/** Who asks, for the transitions and the audit log. */
export interface TaskContext {
  actor: Actor;
  ip?: string | null;
}

export interface TaskServiceOptions {
  /** How deep subtasks may nest (a top-level task is depth 0). Default 8. */
  maxDepth?: number;
  /** Allow delegating to the same tier (the design's "unless a policy says so"). Default: no. */
  delegation?: DelegationPolicy;
  /** How many candidate agents assignment by skills looks at. Default 1,000. */
  candidateLimit?: number;
}

/** A task with its status history, as `GET /api/tasks/<id>` shows it. */
export interface TaskDetail extends Task {
  transitions: TaskTransition[];
}

/** Where a task goes to get an agent: a named one, or the best by skills (and tier). */
export type AssignRequest = { agentId: string } | { skills: readonly string[]; tier?: Tier };

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

/**
 * The orchestrator's tasks: submit (idempotent by key), assign (named, or by skills with
 * `chooseAgent`), start, complete, fail (retried while attempts remain), review, approve, reject
 * (reassigned with the feedback), cancel (with every open subtask). Every status change goes
 * through `transition()` and commits in one transaction with its `task_transitions` row and its
 * audit entry.
 */
export class TaskService {
  readonly #store: Store;
  readonly #maxDepth: number;
  readonly #policy: DelegationPolicy;
  readonly #candidateLimit: number;

  constructor(store: Store, options: TaskServiceOptions = {}) {
    this.#store = store;
    this.#maxDepth = options.maxDepth ?? 8;
    this.#policy = options.delegation ?? {};
    this.#candidateLimit = options.candidateLimit ?? 1000;
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
    if (!task) throw notFound(id);
    return { ...task, transitions: await this.#store.tasks.transitions(id) };
  }

  /**
   * Creates a task (PENDING) and, when `agentId` or `skills` is given, assigns it in the same
   * transaction. With an `idempotencyKey` the creator's first task with that key is answered again
   * (`created: false`) instead of making another.
   */
  async submit(input: unknown, ctx: TaskContext): Promise<{ task: Task; created: boolean }> {
    const request = SubmitTaskSchema.parse(input);
    return this.#store.transaction(async (tx) => {
      if (request.idempotencyKey !== undefined) {
        await tx.tasks.lockIdempotencyKey(ctx.actor, request.idempotencyKey);
        const existing = await tx.tasks.findByIdempotencyKey(ctx.actor, request.idempotencyKey);
        if (existing) return { task: existing, created: false };
      }
      const parent = request.parentId === undefined ? undefined : await tx.tasks.get(request.parentId);
      if (request.parentId !== undefined && !parent) throw notFound(request.parentId);
      if (parent && isTerminal(parent)) {
        throw new ZiggieError(
          'CONFLICT',
          `task ${parent.id} is ${parent.status}: a finished task takes no new subtasks`,
          { parentId: parent.id, status: parent.status },
        );
      }
      const creator = await delegator(tx, ctx.actor);
      if (creator && delegableTiers(creator.tier, this.#policy).length === 0) {
        throw refused('down_only', `${creator.id} (${creator.tier}) has no tier below it to delegate to`, {
          from: creator.id,
        });
      }
      const depth = parent ? parent.depth + 1 : 0;
      if (depth > this.#maxDepth) {
        throw refused(
          'max_depth',
          `a subtask at depth ${depth} is deeper than the allowed ${this.#maxDepth} levels of delegation`,
          { depth, maxDepth: this.#maxDepth },
        );
      }
      const now = new Date();
      const task = await tx.tasks.insert({
        id: newTaskId(now),
        taskType: request.taskType,
        priority: request.priority,
        workspace: request.workspace ?? parent?.workspace ?? null,
        creator: ctx.actor,
        parentId: parent?.id ?? null,
        depth,
        requiredSkills: request.skills ?? [],
        input: request.input ?? null,
        maxAttempts: request.maxAttempts,
        idempotencyKey: request.idempotencyKey ?? null,
        deadline: request.deadline === undefined ? null : new Date(request.deadline),
        createdAt: now,
      });
      await record(tx, task, null, 'PENDING', ctx, null, now, {
        taskType: task.taskType,
        priority: task.priority,
        workspace: task.workspace,
        parentId: task.parentId,
      });
      const assignment: AssignRequest | undefined = request.agentId
        ? { agentId: request.agentId }
        : request.skills
          ? { skills: request.skills, ...(request.tier ? { tier: request.tier } : {}) }
          : undefined;
      const assigned = assignment ? await this.#assign(tx, task, assignment, ctx) : task;
      return { task: assigned, created: true };
    });
  }

  /** Assigns a PENDING task; by skills, a task nobody can take stays PENDING with `why` saying so. */
  assign(id: string, request: AssignRequest, ctx: TaskContext): Promise<Task> {
    return this.#change(id, (tx, task) => this.#assign(tx, task, request, ctx));
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

  /** The attempt failed (IN_PROGRESS → FAILED); while attempts remain the task is assigned again. */
  async fail(id: string, input: unknown, ctx: TaskContext): Promise<Task> {
    const { error } = FailTaskSchema.parse(input);
    return this.#change(id, async (tx, task) => {
      assertAssignee(task, ctx, 'fail');
      const now = new Date();
      const failed = await move(tx, task, 'FAILED', ctx, error.message, {
        error,
        durationMs: task.startedAt ? now.getTime() - task.startedAt.getTime() : null,
      });
      if (isTerminal(failed)) return failed;
      return move(
        tx,
        failed,
        'ASSIGNED',
        ctx,
        `retry: attempt ${failed.attempts + 1} of ${failed.maxAttempts}`,
        {
          assignedAt: now,
        },
      );
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
      const cascade = `parent ${task.id} cancelled`;
      let frontier = [task.id];
      while (frontier.length > 0) {
        const next: string[] = [];
        for (const parentId of frontier) {
          for (const child of await tx.tasks.children(parentId)) {
            next.push(child.id);
            const locked = await tx.tasks.getForUpdate(child.id);
            if (locked && allowedTransitions(locked).includes('CANCELLED')) {
              await move(tx, locked, 'CANCELLED', ctx, cascade, {});
            }
          }
        }
        frontier = next;
      }
      return cancelled;
    });
  }

  /** Runs `fn` on the task, locked, in one transaction. */
  #change(id: string, fn: (tx: StoreTx, task: Task) => Promise<Task>): Promise<Task> {
    return this.#store.transaction(async (tx) => {
      const task = await tx.tasks.getForUpdate(id);
      if (!task) throw notFound(id);
      return fn(tx, task);
    });
  }

  async #assign(tx: StoreTx, task: Task, request: AssignRequest, ctx: TaskContext): Promise<Task> {
    const from = await delegator(tx, ctx.actor);
    const ancestors = await ancestorAssignees(tx, task);
    let agentId: string;
    let why: string;
    if ('agentId' in request) {
      const agent = await tx.agents.get(request.agentId);
      if (!agent) {
        throw new ZiggieError('AGENT_NOT_FOUND', `no agent with id "${request.agentId}"`, {
          agent: request.agentId,
        });
      }
      if (agent.status === 'disabled' || agent.status === 'offline') {
        throw new ZiggieError(
          'TASK_ASSIGNEE_UNAVAILABLE',
          `agent ${agent.id} is ${agent.status} and takes no tasks`,
          { agent: agent.id, status: agent.status },
        );
      }
      const problem = checkDelegation({
        from,
        to: { id: agent.id, tier: agent.tier },
        ancestorAssignees: ancestors,
        depth: task.depth,
        maxDepth: this.#maxDepth,
        policy: this.#policy,
      });
      if (problem) throw refused(problem.rule, problem.message, { from: from?.id ?? null, to: agent.id });
      agentId = agent.id;
      why = `${agent.id}: named by ${ctx.actor.type} ${ctx.actor.id}`;
    } else {
      const allowed = delegableTiers(from?.tier, this.#policy);
      if (request.tier && !allowed.includes(request.tier)) {
        throw refused(
          'down_only',
          `${from?.id} (${from?.tier}) may not delegate to tier ${request.tier}: delegation goes down the tiers only`,
          { from: from?.id ?? null, tier: request.tier },
        );
      }
      const candidates = (
        await tx.tasks.candidates({
          skills: request.skills,
          workspace: task.workspace,
          tiers: request.tier ? [request.tier] : allowed,
          limit: this.#candidateLimit,
        })
      ).filter((agent) => !ancestors.includes(agent.id));
      const workspace = task.workspace === null ? undefined : await tx.workspaces.get(task.workspace);
      const decision = chooseAgent(
        {
          requiredSkills: request.skills,
          ...(task.workspace === null ? {} : { workspace: task.workspace }),
          ...(request.tier ? { tier: request.tier } : {}),
          priority: task.priority,
          ...(workspace ? { workspacePriority: workspace.priority } : {}),
        },
        candidates,
      );
      if (decision.agentId === undefined) {
        const updated = await tx.tasks.update(task.id, { why: decision.why, updatedAt: new Date() });
        return updated ?? task;
      }
      agentId = decision.agentId;
      why = decision.why;
    }
    return move(tx, task, 'ASSIGNED', ctx, why, { assignee: agentId, why, assignedAt: new Date() });
  }
}

/**
 * Moves `task` to `to` through the state machine (refused with TASK_TRANSITION_INVALID), writing
 * the change, its transition row, its audit entry and the assignee's workload in the caller's
 * transaction.
 */
async function move(
  tx: StoreTx,
  task: Task,
  to: TaskStatus,
  ctx: TaskContext,
  reason: string | null,
  changes: Omit<TaskUpdate, 'updatedAt' | 'status' | 'attempts' | 'rejections'>,
): Promise<Task> {
  const next = transition(task, to);
  const at = new Date();
  const updated = await tx.tasks.update(task.id, {
    ...changes,
    status: next.status,
    attempts: next.attempts,
    rejections: next.rejections,
    updatedAt: at,
  });
  if (!updated) throw notFound(task.id);
  const before = HELD.has(task.status) ? task.assignee : null;
  const after = HELD.has(updated.status) ? updated.assignee : null;
  if (before !== after) {
    if (before) await tx.tasks.adjustWorkload(before, -1);
    if (after) await tx.tasks.adjustWorkload(after, 1);
  }
  await record(tx, updated, task.status, to, ctx, reason, at, {
    ...(updated.assignee ? { assignee: updated.assignee } : {}),
    attempts: updated.attempts,
    ...(updated.rejections > 0 ? { rejections: updated.rejections } : {}),
  });
  return updated;
}

/** The transition row and the audit entry of one move. */
async function record(
  tx: StoreTx,
  task: Task,
  from: TaskStatus | null,
  to: TaskStatus,
  ctx: TaskContext,
  reason: string | null,
  at: Date,
  metadata: Record<string, unknown>,
): Promise<void> {
  await tx.tasks.appendTransitions([{ taskId: task.id, from, to, actor: ctx.actor, reason, at }]);
  await tx.audit.append([
    {
      actor: ctx.actor,
      action: ACTION[to],
      entityType: 'task',
      entityId: task.id,
      metadata: { from, to, ...(reason === null ? {} : { reason }), ...metadata },
      ip: ctx.ip ?? null,
      time: at,
    },
  ]);
}

/** The delegating agent's id and tier; undefined for users, keys and Ziggie (they may delegate to anyone). */
async function delegator(tx: StoreTx, actor: Actor): Promise<{ id: string; tier: Tier } | undefined> {
  if (actor.type !== 'agent') return undefined;
  const agent = await tx.agents.get(actor.id);
  if (!agent) throw new ZiggieError('AGENT_NOT_FOUND', `no agent with id "${actor.id}"`, { agent: actor.id });
  return { id: agent.id, tier: agent.tier };
}

/** Assignees of the task's parent and its ancestors, nearest first. */
async function ancestorAssignees(tx: StoreTx, task: Task): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  let parentId = task.parentId;
  while (parentId !== null && !seen.has(parentId)) {
    seen.add(parentId);
    const parent = await tx.tasks.get(parentId);
    if (!parent) break;
    if (parent.assignee) out.push(parent.assignee);
    parentId = parent.parentId;
  }
  return out;
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

/** `tsk_` + creation time (base36, fixed width) + randomness: ids sort by creation. */
function newTaskId(now: Date): string {
  return `tsk_${now.getTime().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

function refused(rule: DelegationRule, message: string, details: Record<string, unknown>): ZiggieError {
  return new ZiggieError('TASK_DELEGATION_REFUSED', message, { rule, ...details });
}

function notFound(id: string): ZiggieError {
  return new ZiggieError('TASK_NOT_FOUND', `no task with id "${id}"`, { task: id });
}
