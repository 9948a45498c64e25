import type { Bus } from '../bus/bus.ts';
import { SYSTEM_ACTOR } from '../core/access.ts';
import { ZiggieError } from '../core/errors.ts';
import type { Task, TaskError, TaskLogLine } from '../core/task.ts';
import { isTerminal } from '../core/task-states.ts';
import type { Store, StoreTx } from '../store/types.ts';
import { type AssignRules, assignTask } from './assign-task.ts';
import { GroupCommit } from './group-commit.ts';
import { Batcher, settleEach } from './task-batches.ts';
import type { TaskContext } from './task-context.ts';
import {
  cancelDescendants,
  claimAttempts,
  completeAttempts,
  failFinally,
  inTaskTransaction,
  move,
  settleParent,
  taskNotFound,
} from './task-moves.ts';

/** How long a retry waits: `initialDelayMs · 2^(attempt - 1)`, at most `maxDelayMs`. */
export interface RetryBackoff {
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface TaskLeasesOptions {
  rules: AssignRules;
  /** Attempt outcomes commit in groups under load (shared with the submits). */
  group?: GroupCommit;
  bus?: Bus;
  backoff?: RetryBackoff;
}

/** What an attempt ended with, as a runner or a remote agent reports it. */
export type AttemptOutcome =
  | { ok: true; output: unknown; usage?: { inputTokens: number; outputTokens: number; cost: number } }
  | {
      ok: false;
      error: TaskError;
      retryable: boolean;
      /** What the attempt spent before it failed (it counts toward usage and budgets). */
      usage?: { inputTokens: number; outputTokens: number; cost: number };
    };

/**
 * Attempts and their leases (issue 4 §4). A runner or a remote agent *claims* ASSIGNED tasks
 * (ASSIGNED → IN_PROGRESS, holding a lease until a time), keeps the lease alive with heartbeats,
 * and reports the outcome. A lease that runs out fails the attempt (`lease_expired`) and the task
 * is retried, on another agent when one has the skills, after an exponential backoff. Deadlines
 * end tasks that are still open. Every change is a `move` in one transaction (task-moves.ts).
 */
export class TaskLeases {
  readonly #store: Store;
  readonly #bus: Bus | undefined;
  readonly #rules: AssignRules;
  readonly #backoff: RetryBackoff;
  readonly #group: GroupCommit;
  /** Attempt outcomes of one moment, finished together (see #finishAll). */
  readonly #outcomes = new Batcher<{ id: string; owner: string; outcome: AttemptOutcome }, Task>((items) =>
    this.#group.run((tx) => this.#finishAll(tx, items)),
  );

  constructor(store: Store, options: TaskLeasesOptions) {
    this.#store = store;
    this.#bus = options.bus;
    this.#rules = options.rules;
    this.#backoff = options.backoff ?? { initialDelayMs: 1000, maxDelayMs: 60_000 };
    this.#group = options.group ?? new GroupCommit((fn) => this.#transaction(fn));
  }

  /**
   * Claims up to `limit` ASSIGNED tasks (of these agents, when given) for `owner` until
   * `now + leaseMs`; they move to IN_PROGRESS as one attempt each. On PostgreSQL the rows are taken
   * with `FOR UPDATE SKIP LOCKED`: two nodes claiming at once never get the same task.
   */
  claim(query: {
    owner: string;
    leaseMs: number;
    limit: number;
    agentIds?: readonly string[];
  }): Promise<Task[]> {
    // Claims of many connections (each freed slot claims) share commits with the outcomes.
    return this.#group.run((tx) => {
      const now = new Date();
      return claimAttempts(
        tx,
        { ...(query.agentIds ? { assignees: query.agentIds } : {}), limit: query.limit, now },
        { owner: query.owner, expiresAt: new Date(now.getTime() + query.leaseMs), at: now },
        (task) => (task.assignee ? { actor: { type: 'agent', id: task.assignee } } : SYSTEM),
      );
    });
  }

  /** Extends the leases `owner` holds among `ids`; answers the ids it no longer holds (stop those). */
  async heartbeat(ids: readonly string[], owner: string, leaseMs: number): Promise<string[]> {
    const held = new Set(await this.#store.tasks.extendLeases(ids, owner, new Date(Date.now() + leaseMs)));
    return ids.filter((id) => !held.has(id));
  }

  /**
   * The attempt `owner` holds ended: COMPLETED with the output, or FAILED and retried while
   * attempts remain and the error is retryable. Refused with TASK_LEASE_LOST when `owner` no longer
   * holds it (the lease ran out and the task went on without it, or it was cancelled).
   */
  /** Resolves once no outcome waits to be written. */
  idle(): Promise<void> {
    return this.#outcomes.idle();
  }

  finish(id: string, owner: string, outcome: AttemptOutcome): Promise<Task> {
    return this.#outcomes.add({ id, owner, outcome });
  }

  /** The outcomes reported in one moment: their tasks read in one statement, then each finished. */
  #finishAll(tx: StoreTx, items: Array<{ id: string; owner: string; outcome: AttemptOutcome }>) {
    const held = tx.tasks
      .getMany(
        items.map((item) => item.id),
        { forUpdate: true },
      )
      .then((tasks) => new Map(tasks.map((task) => [task.id, task])));
    const seen = new Set<string>();
    return settleEach(
      tx,
      items,
      async ({ id, owner, outcome }) => {
        const task = (await held).get(id);
        if (!task) throw taskNotFound(id);
        // A second report of the same attempt in one batch finds it finished by the first.
        if (task.status !== 'IN_PROGRESS' || task.leaseOwner !== owner || seen.has(id)) throw leaseLost(task);
        seen.add(id);
        return { task, outcome };
      },
      async (tx, accepted) => {
        // Plain completions (no parent to settle) in one statement; the rest one by one.
        const plain = accepted.filter(({ checked }) => checked.outcome.ok && checked.task.parentId === null);
        const done = await completeAttempts(
          tx,
          plain.map(({ checked }) => ({
            task: checked.task,
            output: checked.outcome.ok ? checked.outcome.output : null,
            ...(checked.outcome.usage ? { usage: checked.outcome.usage } : {}),
          })),
          agentContext,
        );
        const byId = new Map(done.map((task) => [task.id, task]));
        const finished: Task[] = [];
        for (const { checked } of accepted) {
          finished.push(
            byId.get(checked.task.id) ?? (await this.#finishHeld(tx, checked.task, checked.outcome)),
          );
        }
        return finished;
      },
    );
  }

  /** Ends the attempt of `task` (held, in progress) with `outcome`. */
  async #finishHeld(tx: StoreTx, task: Task, outcome: AttemptOutcome): Promise<Task> {
    const ctx: TaskContext = task.assignee ? { actor: { type: 'agent', id: task.assignee } } : SYSTEM;
    const now = new Date();
    const durationMs = task.startedAt ? now.getTime() - task.startedAt.getTime() : null;
    const usage = outcome.usage
      ? {
          inputTokens: task.inputTokens + outcome.usage.inputTokens,
          outputTokens: task.outputTokens + outcome.usage.outputTokens,
          cost: task.cost + outcome.usage.cost,
        }
      : {};
    if (outcome.ok) {
      return move(tx, task, 'COMPLETED', ctx, null, {
        output: outcome.output,
        completedAt: now,
        durationMs,
        ...usage,
      });
    }
    const spent = { ...task, ...usage };
    if (!outcome.retryable) return failFinally(tx, spent, ctx, withCode(outcome.error), usage);
    const failed = await move(tx, task, 'FAILED', ctx, outcome.error.message, {
      error: outcome.error,
      durationMs,
      ...usage,
    });
    return this.retry(tx, failed, SYSTEM, {});
  }

  /** The assignee handed the task over to its subtasks: it settles when they do (no lease needed). */
  awaitSubtasks(id: string, ctx: TaskContext, owner?: string): Promise<Task> {
    return this.#transaction(async (tx) => {
      const task = await tx.tasks.getForUpdate(id);
      if (!task) throw taskNotFound(id);
      if (task.status !== 'IN_PROGRESS' || (owner !== undefined && task.leaseOwner !== owner)) {
        throw leaseLost(task);
      }
      if (ctx.actor.type === 'agent' && task.assignee !== ctx.actor.id) {
        throw new ZiggieError(
          'PERMISSION_DENIED',
          `only the assignee (${task.assignee}) may hand task ${id} over`,
          {
            task: id,
          },
        );
      }
      const children = await tx.tasks.children(id);
      if (children.length === 0) {
        throw new ZiggieError('CONFLICT', `task ${id} has no subtasks to wait for`, { task: id });
      }
      await tx.tasks.update(id, {
        awaitingChildren: true,
        leaseOwner: null,
        leaseExpiresAt: null,
        updatedAt: new Date(),
      });
      // Subtasks that finished already settle it at once.
      await settleParent(tx, id);
      return (await tx.tasks.get(id)) ?? task;
    });
  }

  /**
   * Fails the attempts whose lease ran out before `now` (`lease_expired`) and retries them on
   * another agent when one fits. Answers how many. Called periodically by the runner.
   */
  expireLeases(now: Date = new Date(), limit = 100): Promise<number> {
    return this.#failHeld((tx) => tx.tasks.expiredLeases(now, limit), 'lease_expired', 'the lease ran out');
  }

  /**
   * At boot: the attempts an earlier run of this node held (owner prefix) died with it; they are
   * failed (`lease_expired`) and retried now instead of when their lease would have run out.
   */
  redrive(ownerPrefix: string, limit = 500): Promise<number> {
    return this.#failHeld(
      (tx) => tx.tasks.leasedBy(ownerPrefix, limit),
      'lease_expired',
      'the node that ran it restarted',
    );
  }

  /**
   * Ends open tasks whose deadline passed: an attempt in progress fails for good (`deadline`);
   * a task not started yet is cancelled with that reason (the state machine has no FAILED before
   * IN_PROGRESS). Their open subtasks are cancelled. Answers how many.
   */
  enforceDeadlines(now: Date = new Date(), limit = 100): Promise<number> {
    return this.#transaction(async (tx) => {
      const due = await tx.tasks.pastDeadline(now, limit);
      for (const task of due) {
        const message = `the deadline ${task.deadline?.toISOString()} passed`;
        const ended =
          task.status === 'IN_PROGRESS'
            ? await failFinally(tx, task, SYSTEM, { code: 'deadline', message })
            : await move(tx, task, 'CANCELLED', SYSTEM, `deadline: ${message}`, {
                error: { code: 'deadline', message },
              });
        await cancelDescendants(tx, ended, SYSTEM);
      }
      return due.length;
    });
  }

  /** Appends lines to a task's log and publishes them. */
  async appendLog(taskId: string, lines: readonly TaskLogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.#store.tasks.appendLogs(lines.map((line) => ({ ...line, taskId })));
    for (const line of lines) this.#bus?.publish('task.log', { taskId, ...line });
  }

  /**
   * A failed task goes back to ASSIGNED while attempts remain, after a backoff: to another agent
   * with the skills (of the same tier) when `avoid` names the one that failed, else to the same.
   */
  async retry(tx: StoreTx, failed: Task, ctx: TaskContext, options: { avoid?: string }): Promise<Task> {
    if (isTerminal(failed)) return failed;
    const delay = Math.min(
      this.#backoff.maxDelayMs,
      this.#backoff.initialDelayMs * 2 ** (failed.attempts - 1),
    );
    const notBefore = new Date(Date.now() + delay);
    const reason = `retry: attempt ${failed.attempts + 1} of ${failed.maxAttempts} in ${delay} ms`;
    if (options.avoid !== undefined && failed.requiredSkills.length > 0) {
      const dead = await tx.agents.get(options.avoid);
      const moved = await assignTask(
        tx,
        failed,
        // The tier it was submitted for, else the failed agent's: a retry stays at the same level.
        {
          skills: failed.requiredSkills,
          ...(failed.tier || dead ? { tier: failed.tier ?? dead?.tier } : {}),
        },
        ctx,
        this.#rules,
        { avoid: [options.avoid], reason, notBefore },
      ).catch(() => failed);
      if (moved.status === 'ASSIGNED') return moved;
    }
    return move(tx, failed, 'ASSIGNED', ctx, reason, { assignedAt: new Date(), notBefore });
  }

  async #failHeld(select: (tx: StoreTx) => Promise<Task[]>, code: string, message: string): Promise<number> {
    return this.#transaction(async (tx) => {
      const held = await select(tx);
      for (const task of held) {
        const failed = await move(tx, task, 'FAILED', SYSTEM, code, {
          error: { code, message: `${message} (held by ${task.leaseOwner})` },
          durationMs: task.startedAt ? Date.now() - task.startedAt.getTime() : null,
        });
        await this.retry(tx, failed, SYSTEM, task.assignee ? { avoid: task.assignee } : {});
      }
      return held.length;
    });
  }

  #transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return inTaskTransaction(this.#store, this.#bus, fn);
  }
}

const SYSTEM: TaskContext = { actor: SYSTEM_ACTOR };

/** A move an agent's attempt makes is the agent's; without an assignee, Ziggie's. */
function agentContext(task: Task): TaskContext {
  return task.assignee ? { actor: { type: 'agent', id: task.assignee } } : SYSTEM;
}

function leaseLost(task: Task): ZiggieError {
  return new ZiggieError(
    'TASK_LEASE_LOST',
    `task ${task.id} is ${task.status}${task.leaseOwner ? ` and held by ${task.leaseOwner}` : ''}: this attempt no longer holds it`,
    { task: task.id, status: task.status },
  );
}

function withCode(error: TaskError): { code: string; message: string } {
  return { code: error.code ?? 'failed', message: error.message };
}
