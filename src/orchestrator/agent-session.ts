import type { Bus } from '../bus/bus.ts';
import {
  AGENT_PROTOCOL_VERSION,
  AgentSingleMessageSchema,
  BatchMessageSchema,
  describeProtocolIssues,
  type FailureMessage,
  type LogMessage,
  type ProgressMessage,
  type ReadyMessage,
  type RemoteTask,
  type ResultMessage,
  type ServerMessage,
} from '../core/agent-protocol.ts';
import { isZiggieError } from '../core/errors.ts';
import type { Task } from '../core/task.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { TaskLeases } from './task-leases.ts';

/** The transport under a session: one WebSocket (or anything that carries text frames). */
export interface AgentLink {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** A task a connection holds: the lease owner (an adopted task keeps its first connection's) and the attempt. */
export interface HeldTask {
  owner: string;
  attempt: number;
}

/** What a session needs from its hub. */
export interface SessionHost {
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly leases: TaskLeases;
  readonly bus: Bus;
  readonly logger: Logger | undefined;
  /** Records that `session` holds (or no longer holds) a task, hub-wide. */
  hold(taskId: string, session: AgentSession): void;
  release(taskId: string): void;
  /** Takes over the tasks an earlier connection of the same agent left (the others answered false). */
  adopt(taskId: string, session: AgentSession): HeldTask | undefined;
  /** A slot came free or concurrency changed: claim when there may be work. */
  slotFreed(session: AgentSession): void;
}

/**
 * One live connection of a remote agent: the tasks it holds and the messages it sends. Frames are
 * handled in order, one at a time (a `ready` before the results it is followed by); within a
 * `batch`, results and failures are committed together at the end.
 */
export class AgentSession {
  readonly id: string;
  readonly agentId: string;
  /** The lease owner of the tasks this connection claims. */
  readonly owner: string;
  readonly tasks = new Map<string, HeldTask>();
  concurrency: number;
  isReady = false;
  closed = false;
  /** Claim bookkeeping (the hub's): a claim is queued, running, or asked again. */
  scheduled = false;
  claiming = false;
  claimAgain = false;
  /**
   * Assignments announced (task.changed) and not claimed yet: a freed slot claims only when some
   * may be waiting. Starts at 1: whatever was assigned before the connection is claimed at `ready`.
   */
  unclaimed = 1;
  readonly #host: SessionHost;
  readonly #link: AgentLink;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    host: SessionHost,
    link: AgentLink,
    agent: { id: string; capacity: number },
    id: string,
    maxMessageBytes: number,
  ) {
    this.#host = host;
    this.#link = link;
    this.id = id;
    this.agentId = agent.id;
    this.owner = `remote:${host.nodeId}:${id}`;
    this.concurrency = agent.capacity;
    this.send({
      type: 'hello',
      protocol: AGENT_PROTOCOL_VERSION,
      agentId: agent.id,
      nodeId: host.nodeId,
      connectionId: id,
      heartbeatMs: Math.max(50, Math.floor(host.leaseMs / 3)),
      leaseMs: host.leaseMs,
      concurrency: agent.capacity,
      maxMessageBytes,
    });
  }

  /** Slots promised to tasks being submitted straight to this connection (see AgentHub.reserve). */
  reserved = 0;

  get free(): number {
    return this.concurrency - this.tasks.size - this.reserved;
  }

  send(message: ServerMessage): void {
    if (!this.closed) this.#link.send(JSON.stringify(message));
  }

  close(code: number, reason: string): void {
    this.#link.close(code, reason);
  }

  /** A text frame from the agent. */
  receive(text: string): void {
    this.#queue = this.#queue
      .then(() => this.#frame(text))
      .catch((error) =>
        this.#host.logger?.error({ err: error, agent: this.agentId }, 'agent message failed'),
      );
  }

  /** Tasks claimed for this connection: held, and sent in one message. */
  deliver(tasks: readonly Task[]): void {
    for (const task of tasks) {
      this.tasks.set(task.id, { owner: this.owner, attempt: task.attempts });
      this.#host.hold(task.id, this);
    }
    this.send({ type: 'tasks', tasks: tasks.map(toRemoteTask) });
  }

  /** The task ended elsewhere (cancelled, lease lost, finished by someone else): tell the agent to stop. */
  revoke(taskId: string, reason: string): void {
    if (!this.#drop(taskId)) return;
    this.send({ type: 'cancel', taskId, reason });
    this.#host.slotFreed(this);
  }

  async #frame(text: string): Promise<void> {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      return this.#error('VALIDATION_FAILED', `not JSON: ${(error as Error).message}`);
    }
    const type = (data as { type?: unknown } | null)?.type;
    if (type !== 'batch') return this.#one(data, '', []);
    const batch = BatchMessageSchema.safeParse(data);
    if (!batch.success) {
      return this.#error('VALIDATION_FAILED', describeProtocolIssues(batch.error), { about: 'batch' });
    }
    const finishing: Promise<void>[] = [];
    for (const [index, message] of batch.data.messages.entries()) {
      await this.#one(message, `messages.${index}`, finishing);
    }
    await Promise.all(finishing);
  }

  /** One message; results and failures go to `finishing` when given (a batch commits them together). */
  async #one(data: unknown, path: string, finishing: Promise<void>[]): Promise<void> {
    const parsed = AgentSingleMessageSchema.safeParse(data);
    if (!parsed.success) {
      const about =
        typeof (data as { type?: unknown })?.type === 'string' ? (data as { type: string }).type : undefined;
      return this.#error('VALIDATION_FAILED', describeProtocolIssues(parsed.error, path), {
        ...(about ? { about } : {}),
      });
    }
    const message = parsed.data;
    if (message.type === 'ready') return this.#ready(message);
    if (!this.isReady) {
      return this.#error('VALIDATION_FAILED', `send "ready" before "${message.type}"`, {
        about: message.type,
      });
    }
    switch (message.type) {
      case 'heartbeat':
        return this.#heartbeat([...this.tasks.keys()]);
      case 'progress':
        return this.#progress(message);
      case 'log':
        return this.#log(message);
      case 'await_subtasks':
        return this.#awaitSubtasks(message.taskId);
      case 'result':
      case 'failure': {
        const done = this.#finish(message);
        if (path === '') return done;
        finishing.push(done);
      }
    }
  }

  #ready(message: ReadyMessage): Promise<void> {
    if (message.concurrency !== undefined) this.concurrency = message.concurrency;
    const adopted: string[] = [];
    for (const taskId of message.held ?? []) {
      if (this.tasks.has(taskId)) continue;
      const held = this.#host.adopt(taskId, this);
      if (held) {
        this.tasks.set(taskId, held);
        adopted.push(taskId);
      } else {
        this.send({ type: 'cancel', taskId, reason: 'this node no longer holds the task for the agent' });
      }
    }
    this.isReady = true;
    this.#host.slotFreed(this);
    // Adopted leases may be about to run out: extend them now rather than at the next heartbeat.
    return adopted.length > 0 ? this.#heartbeat(adopted) : Promise.resolve();
  }

  async #heartbeat(ids: readonly string[]): Promise<void> {
    const byOwner = new Map<string, string[]>();
    for (const id of ids) {
      const held = this.tasks.get(id);
      if (!held) continue;
      const list = byOwner.get(held.owner);
      if (list) list.push(id);
      else byOwner.set(held.owner, [id]);
    }
    for (const [owner, list] of byOwner) {
      const lost = await this.#host.leases.heartbeat(list, owner, this.#host.leaseMs);
      for (const id of lost) this.revoke(id, 'the lease was lost');
    }
  }

  #progress(message: ProgressMessage): void {
    if (!this.#holds(message.taskId, 'progress')) return;
    this.#host.bus.publish('task.progress', {
      taskId: message.taskId,
      progress: message.progress,
      ...(message.total === undefined ? {} : { total: message.total }),
      ...(message.message === undefined ? {} : { message: message.message }),
      at: new Date(),
    });
  }

  async #log(message: LogMessage): Promise<void> {
    const held = this.tasks.get(message.taskId);
    if (!this.#holds(message.taskId, 'log') || !held) return;
    const at = new Date();
    await this.#host.leases.appendLog(
      message.taskId,
      message.lines.map((line) => ({ attempt: held.attempt, stream: line.stream, text: line.text, at })),
    );
  }

  async #finish(message: ResultMessage | FailureMessage): Promise<void> {
    const held = this.tasks.get(message.taskId);
    if (!this.#holds(message.taskId, message.type) || !held) return;
    this.#drop(message.taskId);
    try {
      await this.#host.leases.finish(
        message.taskId,
        held.owner,
        message.type === 'result'
          ? { ok: true, output: message.output, ...(message.usage ? { usage: message.usage } : {}) }
          : { ok: false, error: message.error, retryable: message.retryable },
      );
    } catch (error) {
      this.#failed(error, message.type, message.taskId);
    } finally {
      this.#host.slotFreed(this);
    }
  }

  async #awaitSubtasks(taskId: string): Promise<void> {
    const held = this.tasks.get(taskId);
    if (!this.#holds(taskId, 'await_subtasks') || !held) return;
    // Dropped first: subtasks already done settle the parent in the same call, and its event must
    // not come back to this agent as a cancel.
    this.#drop(taskId);
    try {
      await this.#host.leases.awaitSubtasks(
        taskId,
        { actor: { type: 'agent', id: this.agentId } },
        held.owner,
      );
      this.send({ type: 'awaiting', taskId });
      this.#host.slotFreed(this);
    } catch (error) {
      // Still the agent's (no subtasks yet, say): it keeps the task and may try again.
      if (isZiggieError(error) && error.code !== 'TASK_LEASE_LOST' && error.code !== 'TASK_NOT_FOUND') {
        this.tasks.set(taskId, held);
        this.#host.hold(taskId, this);
      } else {
        this.#host.slotFreed(this);
      }
      this.#failed(error, 'await_subtasks', taskId);
    }
  }

  /** Whether the connection holds the task; answers an error when not. */
  #holds(taskId: string, about: string): boolean {
    if (this.tasks.has(taskId)) return true;
    this.#error('TASK_LEASE_LOST', `this connection does not hold task ${taskId}`, { about, taskId });
    return false;
  }

  #drop(taskId: string): boolean {
    if (!this.tasks.delete(taskId)) return false;
    this.#host.release(taskId);
    return true;
  }

  #failed(error: unknown, about: string, taskId: string): void {
    if (isZiggieError(error)) {
      this.#error(error.code, error.message, {
        about,
        taskId,
        ...(error.details ? { details: error.details } : {}),
      });
      return;
    }
    this.#host.logger?.error({ err: error, agent: this.agentId, task: taskId }, `agent ${about} failed`);
    this.#error('INTERNAL', 'internal error; see the server log', { about, taskId });
  }

  #error(
    code: string,
    message: string,
    extra: { about?: string; taskId?: string; details?: Record<string, unknown> } = {},
  ): void {
    this.send({ type: 'error', code, message, ...extra });
  }
}

/** What an agent gets of a task. */
export function toRemoteTask(task: Task): RemoteTask {
  return {
    id: task.id,
    taskType: task.taskType,
    input: task.input,
    attempt: task.attempts,
    maxAttempts: task.maxAttempts,
    priority: task.priority,
    workspace: task.workspace,
    parentId: task.parentId,
    depth: task.depth,
    requiredSkills: task.requiredSkills,
    deadline: task.deadline ? task.deadline.toISOString() : null,
    reviewFeedback: task.reviewFeedback,
  };
}
