import { randomFillSync } from 'node:crypto';
import type { z } from 'zod';
import type { Bus } from '../bus/bus.ts';
import { compareForService, type WorkspacePriority } from '../core/assignment.ts';
import { delegableTiers } from '../core/delegation.ts';
import { ZiggieError } from '../core/errors.ts';
import { type DelegationPolicy, isAbove, type Tier } from '../core/policy.ts';
import {
  ApproveTaskSchema,
  CancelTaskSchema,
  CompleteTaskSchema,
  FailTaskSchema,
  RejectTaskSchema,
  RequestReviewSchema,
  type SubmitTask,
  SubmitTaskSchema,
  SubmitTasksSchema,
  type Task,
  type TaskLogLine,
  type TaskTransition,
} from '../core/task.ts';
import { isTerminal, transition } from '../core/task-states.ts';

import type { Page } from '../store/cursor.ts';
import type { NewTask, Store, StoreTx, TaskFilter } from '../store/types.ts';
import {
  type AssignRequest,
  type AssignRules,
  assignTask,
  checkNamedAgent,
  chooseAssignee,
  delegator,
  namedWhy,
} from './assign-task.ts';
import type { DirectDispatch, DirectDispatcher } from './direct-dispatch.ts';
import { GroupCommit } from './group-commit.ts';
import { Batcher, settleEach } from './task-batches.ts';
import type { TaskContext } from './task-context.ts';
import { type RetryBackoff, TaskLeases } from './task-leases.ts';
import {
  cancelDescendants,
  countWorkload,
  createTask,
  delegationRefused,
  draftTask,
  inTaskTransaction,
  move,
  recordCreation,
  taskNotFound,
} from './task-moves.ts';

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
  /** Submits to named agents of one moment, done together (see #submitNamed). */
  readonly #named = new Batcher<NamedSubmit, { task: Task; created: boolean }>((items) =>
    this.#flushNamed(items),
  );
  readonly #dispatch: DirectDispatcher | undefined;
  readonly rules: AssignRules;
  /** Attempts, leases, deadlines (runners and remote agents use these). */
  readonly leases: TaskLeases;

  constructor(store: Store, options: TaskServiceOptions = {}) {
    this.#store = store;
    this.#bus = options.bus;
    this.#dispatch = options.dispatch;
    this.rules = {
      maxDepth: options.maxDepth ?? 8,
      policy: options.delegation ?? {},
      candidateLimit: options.candidateLimit ?? 1000,
      ...(options.blocked ? { blocked: options.blocked } : {}),
    };
    this.#group = new GroupCommit((fn) => this.transaction(fn));
    this.leases = new TaskLeases(store, {
      group: this.#group,
      rules: this.rules,
      ...(options.bus ? { bus: options.bus } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
  }

  /** Resolves once every change asked for has been written (call before closing the store). */
  async drain(): Promise<void> {
    await this.#named.idle();
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
   * transaction. With an `idempotencyKey` the creator's first task with that key is answered again
   * (`created: false`) instead of making another.
   */
  async submit(input: unknown, ctx: TaskContext): Promise<{ task: Task; created: boolean }> {
    const request = SubmitTaskSchema.parse(input);
    // The common case, a top-level task for a named agent, is done set-wise with the others of
    // the same moment; anything else (subtasks, keys, skills) one by one in the group commit.
    if (isPlainNamed(request)) return this.#named.add({ request, ctx });
    return this.#group.run((tx) => this.#submitOne(tx, request, ctx));
  }

  /**
   * Submits to named agents of one moment, with a slot of a connection of the agent reserved for
   * each where there is one (direct dispatch): delivered once committed, released otherwise.
   */
  async #flushNamed(items: NamedSubmit[]) {
    const direct = items.map((item) => this.#dispatch?.(item.request.agentId ?? ''));
    const withSlots = items.map((item, i) => ({ ...item, direct: direct[i] }));
    let results: Array<{ value: { task: Task; created: boolean } } | { error: unknown }> | undefined;
    try {
      results = await this.#group.run((tx) => this.#submitNamed(tx, withSlots));
      return results;
    } finally {
      for (const [i, slot] of direct.entries()) {
        const result = results?.[i];
        if (slot && result && 'value' in result && result.value.task.status === 'IN_PROGRESS') {
          slot.deliver(result.value.task);
        } else slot?.release();
      }
    }
  }

  /** Top-level tasks for named agents: the agents read at once, the tasks inserted at once. */
  #submitNamed(tx: StoreTx, items: NamedSubmit[]) {
    const now = new Date();
    const creators = new Map<string, Promise<{ id: string; tier: Tier } | undefined>>();
    const agents = tx.agents.getMany([...new Set(items.map((item) => item.request.agentId ?? ''))]);
    return settleEach(
      tx,
      items,
      async ({ request, ctx, direct }) => {
        const key = `${ctx.actor.type}:${ctx.actor.id}`;
        if (!creators.has(key)) creators.set(key, delegator(tx, ctx.actor));
        const from = await creators.get(key);
        this.#checkCreator(from);
        const agentId = request.agentId ?? '';
        checkNamedAgent(agentId, (await agents).get(agentId), { from, ancestors: [], depth: 0 }, this.rules);
        const draft = newDraft(request, ctx, null, now);
        const blocked = await this.rules.blocked?.(tx, agentId, draftTask(draft));
        if (blocked) throw new ZiggieError('BUDGET_EXCEEDED', blocked, { agent: agentId, task: draft.id });
        return { draft, ctx, why: namedWhy(agentId, ctx), agentId, direct };
      },
      async (tx, accepted) => {
        const created = await tx.tasks.insertMany(
          accepted.map(({ checked }) => {
            checked.direct?.bind(checked.draft.id);
            const lease = checked.direct
              ? { owner: checked.direct.owner, expiresAt: new Date(now.getTime() + checked.direct.leaseMs) }
              : undefined;
            return {
              task: checked.draft,
              assignment: { assignee: checked.agentId, why: checked.why, ...(lease ? { lease } : {}) },
            };
          }),
        );
        for (const { checked } of accepted) await countWorkload(tx, checked.agentId, 1);
        for (const [i, task] of created.entries())
          await recordCreation(tx, task, accepted[i]?.checked.ctx as TaskContext);
        return created.map((task) => ({ task, created: true }));
      },
    );
  }

  /** An agent in the lowest tier has nobody to hand work to. */
  #checkCreator(creator: { id: string; tier: Tier } | undefined): void {
    if (creator && delegableTiers(creator.tier, this.rules.policy).length === 0) {
      throw delegationRefused(
        'down_only',
        `${creator.id} (${creator.tier}) has no tier below it to delegate to`,
        {
          from: creator.id,
        },
      );
    }
  }

  /**
   * `{tasks: [...]}` (at most 1,000): every task is submitted or none (one transaction; a refusal
   * names the task by its index). Answers the tasks in order, and how many were new (the others
   * matched an idempotency key).
   */
  async submitMany(input: unknown, ctx: TaskContext): Promise<{ tasks: Task[]; created: number }> {
    const { tasks: requests } = SubmitTasksSchema.parse(input);
    const named = requests.flatMap((request, index) => (isPlainNamed(request) ? [index] : []));
    return this.#group.run(async (tx) => {
      const results: Array<{ task: Task; created: boolean }> = new Array(requests.length);
      // Tasks for named agents set-wise (as `submit` does), the others one by one; all or none.
      const settled = await this.#submitNamed(
        tx,
        named.map((index) => ({ request: requests[index] as SubmitTask, ctx })),
      );
      for (const [i, outcome] of settled.entries()) {
        const index = named[i] as number;
        if ('error' in outcome) throw atIndex(outcome.error, index);
        results[index] = outcome.value;
      }
      for (const [index, request] of requests.entries()) {
        if (results[index]) continue;
        results[index] = await this.#submitOne(tx, request, ctx).catch((error: unknown) => {
          throw atIndex(error, index);
        });
      }
      return {
        tasks: results.map((result) => result.task),
        created: results.filter((result) => result.created).length,
      };
    });
  }

  async #submitOne(
    tx: StoreTx,
    request: SubmitTask,
    ctx: TaskContext,
  ): Promise<{ task: Task; created: boolean }> {
    if (request.idempotencyKey !== undefined) {
      await tx.tasks.lockIdempotencyKey(ctx.actor, request.idempotencyKey);
      const existing = await tx.tasks.findByIdempotencyKey(ctx.actor, request.idempotencyKey);
      if (existing) return { task: existing, created: false };
    }
    const parent = request.parentId === undefined ? undefined : await tx.tasks.get(request.parentId);
    if (request.parentId !== undefined && !parent) throw taskNotFound(request.parentId);
    if (parent && isTerminal(parent)) {
      throw new ZiggieError(
        'CONFLICT',
        `task ${parent.id} is ${parent.status}: a finished task takes no new subtasks`,
        { parentId: parent.id, status: parent.status },
      );
    }
    const creator = await delegator(tx, ctx.actor);
    this.#checkCreator(creator);
    const depth = parent ? parent.depth + 1 : 0;
    if (depth > this.rules.maxDepth) {
      throw delegationRefused(
        'max_depth',
        `a subtask at depth ${depth} is deeper than the allowed ${this.rules.maxDepth} levels of delegation`,
        { depth, maxDepth: this.rules.maxDepth },
      );
    }
    const now = new Date();
    const draft = newDraft(request, ctx, parent ?? null, now);
    const assignment: AssignRequest | undefined = request.agentId
      ? { agentId: request.agentId }
      : request.skills
        ? { skills: request.skills, ...(request.tier ? { tier: request.tier } : {}) }
        : undefined;
    // Decided before the insert, so that the task is written once (already ASSIGNED when it is).
    const decision = assignment
      ? await chooseAssignee(tx, draftTask(draft), assignment, ctx, this.rules, { fresh: true })
      : undefined;
    return { task: await createTask(tx, draft, ctx, decision), created: true };
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
          ? assignTask(tx, task, { skills: task.requiredSkills }, { actor: task.creator }, this.rules)
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

/** A submit on the set-wise path, and the connection slot reserved for it, if any. */
interface NamedSubmit {
  request: SubmitTask;
  ctx: TaskContext;
  direct?: DirectDispatch | undefined;
}

/** A top-level task for a named agent, without an idempotency key: it can be submitted set-wise. */
function isPlainNamed(request: SubmitTask): boolean {
  return (
    request.agentId !== undefined && request.parentId === undefined && request.idempotencyKey === undefined
  );
}

/** A refusal of the task at `index` of a batch, naming it. */
function atIndex(error: unknown, index: number): unknown {
  return error instanceof ZiggieError
    ? new ZiggieError(error.code, `tasks[${index}]: ${error.message}`, { index, ...error.details })
    : error;
}

/** The task a request creates (its id from the creation time). */
function newDraft(request: SubmitTask, ctx: TaskContext, parent: Task | null, now: Date): NewTask {
  return {
    id: newTaskId(now),
    taskType: request.taskType,
    priority: request.priority,
    workspace: request.workspace ?? parent?.workspace ?? null,
    creator: ctx.actor,
    parentId: parent?.id ?? null,
    depth: parent ? parent.depth + 1 : 0,
    requiredSkills: request.skills ?? [],
    input: request.input ?? null,
    maxAttempts: request.maxAttempts,
    idempotencyKey: request.idempotencyKey ?? null,
    deadline: request.deadline === undefined ? null : new Date(request.deadline),
    createdAt: now,
    childPolicy: request.childPolicy ?? null,
    complexity: request.complexity ?? 'normal',
    milestone: request.milestone ?? false,
  };
}

/** `tsk_` + creation time (base36, fixed width) + randomness: ids sort by creation. */
function newTaskId(now: Date): string {
  return `tsk_${now.getTime().toString(36).padStart(9, '0')}${randomHex(12)}`;
}

/** Random bytes are drawn 4 KiB at a time: one `randomFillSync` per id costs more than the id. */
const RANDOM_POOL = Buffer.alloc(4096);
let randomOffset = RANDOM_POOL.length;

function randomHex(chars: number): string {
  const bytes = chars / 2;
  if (randomOffset + bytes > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  const hex = RANDOM_POOL.toString('hex', randomOffset, randomOffset + bytes);
  randomOffset += bytes;
  return hex;
}
