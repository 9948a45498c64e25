import { randomUUID } from 'node:crypto';
import { type CallToolResult, ProtocolError } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { ZiggieError } from '../../../core/errors.ts';
import type { McpTask, McpTaskChange, McpTaskRepo, McpTaskStatus } from '../../../store/types.ts';
import { HeldCall, type HeldOutcome } from '../held-calls.ts';
import { isTerminal, LiveTask, snapshotOfRow, type TaskSnapshot } from './live-task.ts';
import { TaskIdSealer } from './sealed-task-id.ts';
import { internalError, TaskLeases } from './task-leases.ts';

/** `gateway.tasks` as resolved from the config. */
export interface TaskLimits {
  /** A call still running after this long becomes a task; 0: every call does. */
  afterMs: number;
  ttlMs: number;
  pollIntervalMs: number;
  /** Tasks one identity may have in flight; further calls are answered without a task. */
  maxPerIdentity: number;
  /**
   * How long a process vouches for the tasks it runs (renewed at a third of it). Another process on
   * the same database fails a task whose lease ran out: its runner crashed or was killed.
   */
  leaseMs: number;
}

/** What starting a call gave: its result (it finished within `afterMs`) or the task running it. */
export type TaskStart = { done: true; result: CallToolResult } | { done: false; task: TaskSnapshot };

/** The upstream call of a task; the held call routes the upstream's requests for client input. */
export type TaskRun = (held: HeldCall<CallToolResult>, signal: AbortSignal) => Promise<CallToolResult>;

const STOPPED = 'Ziggie stopped while this task was in flight; its outcome is unknown';
/** A signal nothing aborts: a task's call outlives the request that started it. */
const NEVER = new AbortController().signal;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Tool calls run as tasks (the MCP Tasks extension, era-free here): started like a stateless held
 * call, answered directly when quick, otherwise recorded in the store and driven in the background
 * so the result waits for the client however long it stays away. Status changes are written as they
 * happen. A task is run by the process that created it, which renews a lease on it; when a process
 * dies its tasks are failed once their lease runs out — by the next Ziggie to start, or by any other
 * one sharing the database — rather than forgotten.
 */
export class TaskService {
  readonly limits: TaskLimits;
  /**
   * Seals the ids of tasks passed through to upstreams that run tasks themselves (task-passthrough.ts).
   * Its key is the store's (`useSealingKey`, at start), so the ids still open after a restart and on
   * every node sharing the database; until then (tests), a key of this process's.
   */
  #sealer = new TaskIdSealer();
  readonly #repo: McpTaskRepo;
  readonly #logger: Logger;
  readonly #leases: TaskLeases;
  readonly #live = new Map<string, LiveTask>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  get sealer(): TaskIdSealer {
    return this.#sealer;
  }

  /** Seals and opens passed-through task ids with `key` (32 bytes) from now on. */
  useSealingKey(key: Buffer): void {
    this.#sealer = new TaskIdSealer(key);
  }

  constructor(repo: McpTaskRepo, limits: TaskLimits, logger: Logger) {
    this.#repo = repo;
    this.limits = limits;
    this.#logger = logger.child({ part: 'tasks' });
    this.#leases = new TaskLeases(repo, limits.leaseMs, () => this.#live.size > 0, this.#logger);
  }

  /** Tasks running in this process. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * At start-up: fails the tasks whose runner is gone (a crash of this or another process), then
   * keeps renewing this process's leases, failing abandoned tasks and deleting expired ones.
   */
  recover(): Promise<void> {
    return this.#leases.start();
  }

  /** Ends the running tasks as failed (their calls are cancelled upstream) and waits for the writes. */
  async stop(): Promise<void> {
    this.#leases.stop();
    await Promise.all(
      [...this.#live.values()].map((task) => this.#end(task, { status: 'failed', ...failure(STOPPED) })),
    );
  }

  /** Whether `owner` may have one more task in flight. */
  hasRoom(owner: string): boolean {
    let running = 0;
    for (const task of this.#live.values()) if (task.owner === owner) running++;
    return running < this.limits.maxPerIdentity;
  }

  /**
   * Starts a call. If it finishes within `afterMs` (and asks nothing of the client) its result is
   * returned as it is; otherwise a task is stored — not before, so the id is good for `tasks/get`
   * the moment the client has it — and the call goes on without the request that started it. The
   * caller's signal cancels the call only while no task exists yet.
   */
  async start(owner: string, tool: string, run: TaskRun, callerSignal: AbortSignal): Promise<TaskStart> {
    const held = new HeldCall<CallToolResult>(owner, run);
    const task = new LiveTask(randomUUID(), owner, tool, held, this.limits.ttlMs);
    held.onprogress = (progress) => {
      task.progress = progress as unknown as LiveTask['progress'];
    };
    let pending = held.next(NEVER);
    if (this.limits.afterMs > 0) {
      const first = await this.#within(pending, held, callerSignal);
      if (first?.done) return { done: true, result: first.result };
      if (first) {
        task.waitForInput(first.requests, held.round);
        pending = held.next(NEVER);
      }
    }
    try {
      await this.#repo.create({
        id: task.id,
        owner,
        tool,
        status: task.status === 'input_required' ? 'input_required' : 'working',
        statusMessage: task.snapshot().statusMessage ?? null,
        createdAt: task.createdAt,
        expiresAt: task.expiresAt,
        runner: this.#leases.runner,
        leaseUntil: this.#leases.leaseFrom(new Date()),
      });
    } catch (error) {
      held.cancel(error);
      pending.catch(() => {});
      throw error;
    }
    this.#live.set(task.id, task);
    this.#expireAt(task);
    void this.#drive(task, pending);
    return { done: false, task: task.snapshot() };
  }

  /** The task's state now, for its owner. */
  async get(id: string, owner: string): Promise<TaskSnapshot> {
    const task = this.#owned(id, owner);
    if (task) return task.snapshot();
    return snapshotOfRow(await this.#stored(id, owner));
  }

  /**
   * Delivers the client's answers to a task waiting for input. Answers to questions that are not
   * outstanding are ignored; with some still unanswered the task keeps waiting for the rest.
   */
  async update(id: string, owner: string, responses: Record<string, unknown>): Promise<void> {
    const task = this.#owned(id, owner);
    const status = task?.status ?? (await this.#elsewhere(id, owner));
    if (task?.status !== 'input_required') {
      const message = `task ${id} is ${status}, not waiting for input: there is nothing to answer`;
      throw new ZiggieError('CONFLICT', message, { taskId: id, status });
    }
    const answers = task.accept(responses);
    if (!answers) return;
    const resumed = task.resume();
    await task.write(() => this.#repo.transition(task.id, resumed));
    // Cancelled meanwhile: its questions went with its call.
    if (!task.ended) task.held.answer(task.round, answers);
  }

  /** Cancels a task (its upstream call is cancelled too); a task that already ended stays as it is. */
  async cancel(id: string, owner: string): Promise<void> {
    const task = this.#owned(id, owner);
    if (task) await this.#end(task, { status: 'cancelled', statusMessage: 'cancelled by the client' });
    else await this.#elsewhere(id, owner);
  }

  /** Follows the call to its end, recording each wait for input and the outcome. */
  async #drive(task: LiveTask, first: Promise<HeldOutcome<CallToolResult>>): Promise<void> {
    let pending = first;
    for (;;) {
      let outcome: HeldOutcome<CallToolResult>;
      try {
        outcome = await pending;
      } catch (error) {
        await this.#end(task, { status: 'failed', ...failure(undefined, error) });
        return;
      }
      if (outcome.done) {
        await this.#end(task, { status: 'completed', result: outcome.result as Record<string, unknown> });
        return;
      }
      // Cancelled (or expired) while the upstream was asking: whoever ended it has cleaned up.
      if (task.ended) return;
      const waiting = task.waitForInput(outcome.requests, task.held.round);
      pending = task.held.next(NEVER);
      await task.write(() => this.#repo.transition(task.id, waiting));
    }
  }

  /** Ends a task once (cancelling its call if it still runs), stores the end, then forgets it. */
  async #end(task: LiveTask, change: McpTaskChange): Promise<void> {
    const ended = task.end(change);
    if (ended) {
      task.held.cancel(new Error(`task ${ended.status}`));
      await task
        .write(() => this.#repo.transition(task.id, ended))
        .catch((error: unknown) => {
          this.#logger.error({ err: error, task: task.id }, 'could not store the end of a task');
        });
    }
    await task.flushed();
    clearTimeout(this.#timers.get(task.id));
    this.#timers.delete(task.id);
    this.#live.delete(task.id);
  }

  /** Waits up to `afterMs` for the first outcome; undefined: still running. */
  async #within(
    pending: Promise<HeldOutcome<CallToolResult>>,
    held: HeldCall<CallToolResult>,
    signal: AbortSignal,
  ): Promise<HeldOutcome<CallToolResult> | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => held.cancel(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([
        pending,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), this.limits.afterMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  #expireAt(task: LiveTask): void {
    if (task.expiresAt === null) return;
    const delay = Math.min(MAX_TIMER_MS, task.expiresAt.getTime() - Date.now());
    const message = `the task did not finish within its time to live (${this.limits.ttlMs} ms)`;
    const timer = setTimeout(() => void this.#end(task, { status: 'failed', ...failure(message) }), delay);
    this.#timers.set(task.id, timer.unref());
  }

  #owned(id: string, owner: string): LiveTask | undefined {
    const task = this.#live.get(id);
    return task?.owner === owner ? task : undefined;
  }

  /**
   * The stored task; unknown, another owner's and expired ones are all "not found". One still in
   * flight whose lease ran out is failed first, so a client never waits on a dead runner.
   */
  async #stored(id: string, owner: string): Promise<McpTask> {
    let task = await this.#repo.get(id, owner);
    if (task && !isTerminal(task.status) && task.leaseUntil.getTime() <= Date.now()) {
      await this.#leases.failAbandoned();
      task = await this.#repo.get(id, owner);
    }
    if (!task) {
      throw new ZiggieError(
        'NOT_FOUND',
        `task ${id} not found: it does not exist, has expired, or belongs to another client`,
        { taskId: id },
      );
    }
    if (task.expiresAt !== null && task.expiresAt.getTime() <= Date.now()) {
      const message = `task ${id} has expired: its time to live ended at ${task.expiresAt.toISOString()}`;
      throw new ZiggieError('NOT_FOUND', message, { taskId: id, expired: true });
    }
    return task;
  }

  /**
   * A task not running in this process: its status if it has ended. One in flight is run by another
   * Ziggie process sharing the database, and only that one can answer or cancel it.
   */
  async #elsewhere(id: string, owner: string): Promise<McpTaskStatus> {
    const task = await this.#stored(id, owner);
    if (isTerminal(task.status)) return task.status;
    throw new ZiggieError(
      'CONFLICT',
      `task ${id} is run by another Ziggie process; send its tasks/update and tasks/cancel there (a load balancer can route on the Mcp-Name header, which carries the task id)`,
      { taskId: id, status: task.status, runner: task.runner },
    );
  }
}

/** A failed end: the JSON-RPC error the call ended with (or `message` as an internal error). */
function failure(
  message: string | undefined,
  error?: unknown,
): Pick<McpTaskChange, 'statusMessage' | 'error'> {
  if (error instanceof ProtocolError) {
    return {
      statusMessage: error.message,
      error: {
        code: error.code,
        message: error.message,
        ...(error.data === undefined ? {} : { data: error.data }),
      },
    };
  }
  const text = message ?? (error instanceof Error ? error.message : String(error));
  return { statusMessage: text, error: internalError(text, message ? 'gateway' : 'call_failed') };
}
