import { delegableTiers } from '../core/delegation.ts';
import { ZiggieError } from '../core/errors.ts';
import type { Tier } from '../core/policy.ts';
import { type SubmitTask, SubmitTaskSchema, SubmitTasksSchema, type Task } from '../core/task.ts';
import { isTerminal } from '../core/task-states.ts';
import type { NewTask, StoreTx } from '../store/types.ts';
import {
  type AssignRequest,
  type AssignRules,
  checkNamedAgent,
  chooseAssignee,
  delegator,
  namedWhy,
} from './assign-task.ts';
import type { DirectDispatch, DirectDispatcher } from './direct-dispatch.ts';
import type { GroupCommit } from './group-commit.ts';
import { Batcher, settleEach } from './task-batches.ts';
import type { TaskContext } from './task-context.ts';
import { newTaskId } from './task-ids.ts';
import {
  countWorkload,
  createTask,
  delegationRefused,
  draftTask,
  recordCreation,
  taskNotFound,
} from './task-moves.ts';

/**
 * Submitting tasks (part of TaskService): checks (parent, delegation, depth, idempotency key),
 * the assignment decided before the insert, and the set-wise path for the common case — top-level
 * tasks for named agents of one moment read their agents once, are inserted together, and go
 * straight to a connection with a free slot when there is one (direct dispatch).
 */
export class TaskSubmitter {
  readonly #group: GroupCommit;
  readonly rules: AssignRules;
  readonly #dispatch: DirectDispatcher | undefined;
  /** Submits to named agents of one moment, done together (see #submitNamed). */
  readonly #named = new Batcher<NamedSubmit, { task: Task; created: boolean }>((items) =>
    this.#flushNamed(items),
  );

  constructor(group: GroupCommit, rules: AssignRules, dispatch?: DirectDispatcher) {
    this.#group = group;
    this.rules = rules;
    this.#dispatch = dispatch;
  }

  /** Resolves once no submit waits to be written. */
  idle(): Promise<void> {
    return this.#named.idle();
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
      // Alone in its transaction, the insert may wait for the transaction's last statement (on
      // PostgreSQL it is then written in it: one round trip less between a submit and the agent).
      results = await this.#group.run((tx, alone) => this.#submitNamed(tx, withSlots, alone));
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
  #submitNamed(tx: StoreTx, items: NamedSubmit[], deferInsert = false) {
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
          { withMoves: deferInsert },
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
    tier: request.tier ?? null,
  };
}
