import { randomBytes } from 'node:crypto';
import type { Bus } from '../bus/bus.ts';
import type { TaskChangedEvent } from '../bus/events.ts';
import type { Agent } from '../core/agent.ts';
import type { Task, TaskLogLine } from '../core/task.ts';
import type { Store } from '../store/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import {
  type AgentTools,
  ExecutionError,
  type ExecutionResult,
  type Executor,
  type TaskLogStream,
} from './executors/types.ts';
import type { AttemptOutcome } from './task-leases.ts';
import type { TaskService } from './task-service.ts';

export interface RunnerDeps {
  tasks: TaskService;
  store: Store;
  bus: Bus;
  /** Executors by binding type (shell, http, mcp, llm). */
  executors: ReadonlyMap<string, Executor>;
  /** The gateway tools an agent may use. */
  tools: (agent: Agent) => AgentTools;
  logger: Logger;
}

export interface RunnerOptions {
  /** This node's name: leases are `<nodeId>:<boot>`; a restart re-drives what `<nodeId>:*` held. */
  nodeId: string;
  leaseMs: number;
  sweepIntervalMs: number;
  maxConcurrentRuns: number;
}

/** An attempt this runner is working on. */
interface Run {
  task: Task;
  controller: AbortController;
  logs: TaskLogLine[];
}

/** Log lines wait at most this long before they are written (one insert for many lines). */
const LOG_FLUSH_MS = 200;

/**
 * Runs the tasks of agents whose executor this node runs itself (shell, http, mcp, llm; issue 4
 * §4-5). It claims their ASSIGNED tasks (as soon as an assignment is published, and on every sweep),
 * holds each attempt's lease with heartbeats while the executor works, and reports the outcome. A
 * task that leaves IN_PROGRESS under it (cancelled, past its deadline, lease lost) aborts the
 * executor, which kills its process tree / cancels its call / stops its loop.
 *
 * The sweep (every `sweepIntervalMs`) also fails attempts whose lease ran out anywhere (a dead node
 * or remote agent; they are retried elsewhere), enforces deadlines, and assigns PENDING tasks once
 * capacity frees up. At start it re-drives the attempts an earlier run of this node held.
 */
export class Runner {
  readonly owner: string;
  readonly #deps: RunnerDeps;
  readonly #options: RunnerOptions;
  readonly #runs = new Map<string, Run>();
  /** Agents with a local executor, and how many tasks each may run at once (its capacity). */
  #local = new Map<string, { capacity: number }>();
  #timers: NodeJS.Timeout[] = [];
  /** The sweep under way, if any. */
  #sweeping: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #claiming = false;
  #claimAgain = false;
  #capacityFreed = true;
  #stopped = false;

  constructor(deps: RunnerDeps, options: RunnerOptions) {
    this.#deps = deps;
    this.#options = options;
    this.owner = `${options.nodeId}:${randomBytes(4).toString('hex')}`;
  }

  /** Attempts running now. */
  get running(): number {
    return this.#runs.size;
  }

  async start(): Promise<void> {
    const redriven = await this.#deps.tasks.leases.redrive(`${this.#options.nodeId}:`);
    if (redriven > 0)
      this.#deps.logger.info({ redriven }, 're-drove the attempts the last run of this node held');
    this.#unsubscribe = this.#deps.bus.subscribe('task.changed', (event) => this.#onTaskChanged(event));
    await this.#refreshAgents();
    this.#timers.push(
      setInterval(() => {
        if (!this.#sweeping) void this.sweep();
      }, this.#options.sweepIntervalMs),
      setInterval(() => void this.#heartbeat(), Math.max(50, Math.floor(this.#options.leaseMs / 3))),
      setInterval(() => void this.#flushLogs(), LOG_FLUSH_MS),
    );
    for (const timer of this.#timers) timer.unref();
    this.#scheduleClaim();
  }

  /**
   * Stops claiming and aborts the attempts in progress; their leases stay, so that the next start
   * of this node (same `nodeId`) re-drives them at once — or, elsewhere, they expire and are retried.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    for (const run of this.#runs.values()) {
      run.controller.abort(new ExecutionError('EXECUTOR_CANCELLED', 'Ziggie is stopping'));
    }
    // A sweep under way finishes its step before the store closes under it.
    await this.#sweeping;
    await this.#flushLogs();
  }

  /**
   * One sweep now, after the one under way if any (tests call it instead of waiting for the timer,
   * which skips its turn while a sweep runs).
   */
  sweep(): Promise<void> {
    const run: Promise<void> = (this.#sweeping ?? Promise.resolve()).then(() => this.#sweep());
    this.#sweeping = run;
    void run.finally(() => {
      if (this.#sweeping === run) this.#sweeping = undefined;
    });
    return run;
  }

  async #sweep(): Promise<void> {
    if (this.#stopped) return;
    const { leases } = this.#deps.tasks;
    try {
      await leases.expireLeases();
      if (this.#stopped) return;
      await leases.enforceDeadlines();
      if (this.#stopped) return;
      if (this.#capacityFreed) {
        this.#capacityFreed = false;
        await this.#deps.tasks.assignPending();
      }
      await this.#refreshAgents();
      this.#scheduleClaim();
    } catch (error) {
      this.#deps.logger.error({ err: error }, 'task sweep failed');
    }
  }

  async #refreshAgents(): Promise<void> {
    const types = [...this.#deps.executors.keys()];
    const agents = await this.#deps.store.agents.withExecutor(types);
    this.#local = new Map(agents.map((a) => [a.id, { capacity: Math.max(1, a.capacity) }]));
  }

  #onTaskChanged(event: TaskChangedEvent): void {
    const run = this.#runs.get(event.id);
    if (run && event.status !== 'IN_PROGRESS') {
      run.controller.abort(
        new ExecutionError(
          event.status === 'CANCELLED' ? 'EXECUTOR_CANCELLED' : 'TASK_LEASE_LOST',
          `the task moved to ${event.status}${event.reason ? ` (${event.reason})` : ''}`,
          { retryable: false },
        ),
      );
    }
    if (event.status === 'ASSIGNED' && event.assignee !== null && this.#local.has(event.assignee)) {
      this.#scheduleClaim();
    }
    if (event.from === 'ASSIGNED' || event.from === 'IN_PROGRESS') {
      if (event.status !== 'IN_PROGRESS') this.#capacityFreed = true;
    }
  }

  /** Claims in one loop at a time; a claim asked for meanwhile runs right after. */
  #scheduleClaim(): void {
    if (this.#stopped) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claiming = true;
    setImmediate(() => {
      this.#claim()
        .catch((error) => this.#deps.logger.error({ err: error }, 'claiming tasks failed'))
        .finally(() => {
          this.#claiming = false;
          if (this.#claimAgain) {
            this.#claimAgain = false;
            this.#scheduleClaim();
          }
        });
    });
  }

  async #claim(): Promise<void> {
    const perAgent = new Map<string, number>();
    for (const run of this.#runs.values()) {
      const id = run.task.assignee ?? '';
      perAgent.set(id, (perAgent.get(id) ?? 0) + 1);
    }
    for (const [agentId, { capacity }] of this.#local) {
      const free = this.#options.maxConcurrentRuns - this.#runs.size;
      if (free <= 0 || this.#stopped) return;
      const spare = Math.min(free, capacity - (perAgent.get(agentId) ?? 0));
      if (spare <= 0) continue;
      const claimed = await this.#deps.tasks.leases.claim({
        owner: this.owner,
        leaseMs: this.#options.leaseMs,
        limit: spare,
        agentIds: [agentId],
      });
      for (const task of claimed) void this.#run(task);
    }
  }

  async #run(task: Task): Promise<void> {
    const run: Run = { task, controller: new AbortController(), logs: [] };
    this.#runs.set(task.id, run);
    let outcome: AttemptOutcome | undefined;
    try {
      outcome = await this.#execute(task, run);
    } finally {
      this.#runs.delete(task.id);
      await this.#flushLogs(run);
    }
    if (outcome) {
      try {
        await this.#deps.tasks.leases.finish(task.id, this.owner, outcome);
      } catch (error) {
        // Lost meanwhile (cancelled, deadline, lease expired): the task went on without this attempt.
        this.#deps.logger.info({ task: task.id, err: error }, 'an attempt ended after its task moved on');
      }
    }
    this.#scheduleClaim();
  }

  /** Runs the executor; undefined when the attempt was taken away (nothing to report). */
  async #execute(task: Task, run: Run): Promise<AttemptOutcome | undefined> {
    const agent = task.assignee ? await this.#deps.store.agents.get(task.assignee) : undefined;
    const executor = agent?.executor ? this.#deps.executors.get(agent.executor.type) : undefined;
    if (!agent || !executor) {
      return failure(
        new ExecutionError(
          'EXECUTOR_BINDING_INVALID',
          `agent ${task.assignee} has no executor this node runs`,
          { retryable: false },
        ),
      );
    }
    let binding: unknown;
    try {
      binding = executor.parse(agent.executor);
    } catch (error) {
      return failure(
        new ExecutionError('EXECUTOR_BINDING_INVALID', (error as Error).message, { retryable: false }),
      );
    }
    const log = (stream: TaskLogStream, text: string) => {
      run.logs.push({ attempt: task.attempts, stream, text, at: new Date() });
    };
    try {
      const result: ExecutionResult = await executor.run({
        task,
        agent,
        binding,
        signal: run.controller.signal,
        log,
        progress: (p) => this.#deps.bus.publish('task.progress', { taskId: task.id, ...p, at: new Date() }),
        tools: this.#deps.tools(agent),
      });
      // Taken away (cancelled, deadline, lease lost, Ziggie stopping): the task has moved on, or
      // keeps its lease for the next start to re-drive. Nothing to report.
      if (run.controller.signal.aborted) return undefined;
      return { ok: true, output: result.output, ...(result.usage ? { usage: result.usage } : {}) };
    } catch (error) {
      if (run.controller.signal.aborted) return undefined;
      const failed =
        error instanceof ExecutionError
          ? error
          : new ExecutionError('EXECUTOR_FAILED', (error as Error).message ?? String(error));
      log('stderr', `${failed.code}: ${failed.message}`);
      return failure(failed);
    }
  }

  async #heartbeat(): Promise<void> {
    if (this.#runs.size === 0) return;
    try {
      const lost = await this.#deps.tasks.leases.heartbeat(
        [...this.#runs.keys()],
        this.owner,
        this.#options.leaseMs,
      );
      for (const id of lost) {
        this.#runs
          .get(id)
          ?.controller.abort(
            new ExecutionError('TASK_LEASE_LOST', 'this node no longer holds the task', { retryable: false }),
          );
      }
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'heartbeat failed');
    }
  }

  async #flushLogs(only?: Run): Promise<void> {
    const runs = only ? [only] : [...this.#runs.values()];
    for (const run of runs) {
      if (run.logs.length === 0) continue;
      const lines = run.logs.splice(0);
      await this.#deps.tasks.leases.appendLog(run.task.id, lines).catch((error) => {
        this.#deps.logger.warn({ err: error, task: run.task.id }, 'task log lines were lost');
      });
    }
  }
}

function failure(error: ExecutionError): AttemptOutcome {
  return {
    ok: false,
    error: { code: error.code, message: error.message },
    retryable: error.retryable,
    ...(error.usage ? { usage: error.usage } : {}),
  };
}
