import { randomUUID } from 'node:crypto';
import { ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { McpTaskError, McpTaskRepo } from '../../../store/types.ts';

const LOST =
  'the Ziggie process running this task stopped without finishing it (it crashed or was killed); its outcome is unknown, call the tool again if that is safe';

/** A gateway-made failure, as the JSON-RPC error a failed task carries. */
export function internalError(message: string, reason: string): McpTaskError {
  return { code: ProtocolErrorCode.InternalError, message, data: { reason } };
}

/**
 * The leases of tasks in the store. A task is run by the process that created it; that process
 * renews a lease on its in-flight tasks at a third of `leaseMs`. An in-flight task whose lease ran
 * out lost its runner (a crash, a kill) and is failed — by the next Ziggie to start on the database
 * or by any other one sharing it — while tasks of live runners are left alone. Expired tasks (past
 * their time to live) are deleted on the same beat.
 */
export class TaskLeases {
  /** This process, as the runner of its tasks. */
  readonly runner = randomUUID();
  readonly leaseMs: number;
  readonly #repo: McpTaskRepo;
  readonly #logger: Logger;
  readonly #running: () => boolean;
  #timer: NodeJS.Timeout | undefined;

  /** `running`: whether this process runs any task now (no renewal otherwise). */
  constructor(repo: McpTaskRepo, leaseMs: number, running: () => boolean, logger: Logger) {
    this.#repo = repo;
    this.leaseMs = leaseMs;
    this.#running = running;
    this.#logger = logger;
  }

  /** Until when a task created now is vouched for. */
  leaseFrom(now: Date): Date {
    return new Date(now.getTime() + this.leaseMs);
  }

  /** Fails what lost its runner now, then keeps the beat until `stop()`. */
  async start(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => void this.#beat(), Math.ceil(this.leaseMs / 3)).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Fails every in-flight task whose lease has run out. */
  async failAbandoned(): Promise<void> {
    const failed = await this.#repo.failAbandoned(new Date(), LOST, internalError(LOST, 'runner_lost'));
    if (failed > 0) this.#logger.warn({ tasks: failed }, 'tasks whose runner stopped marked failed');
  }

  async #beat(): Promise<void> {
    const now = new Date();
    try {
      // Own leases first: a beat that came late must not let this process fail its own tasks.
      if (this.#running()) await this.#repo.renewLeases(this.runner, this.leaseFrom(now));
      await this.failAbandoned();
      await this.#repo.deleteExpired(now);
    } catch (error) {
      this.#logger.warn({ err: error }, 'task lease maintenance failed');
    }
  }
}
