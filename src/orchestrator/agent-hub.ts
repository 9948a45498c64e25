import { randomBytes } from 'node:crypto';
import type { Bus } from '../bus/bus.ts';
import type { TaskChangedEvent } from '../bus/events.ts';
import type { Agent } from '../core/agent.ts';
import { ZiggieError } from '../core/errors.ts';
import type { Store } from '../store/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import { type AgentLink, AgentSession, type HeldTask, type SessionHost } from './agent-session.ts';
import type { DirectDispatch } from './direct-dispatch.ts';
import type { TaskLeases } from './task-leases.ts';
import type { TaskService } from './task-service.ts';

export type { AgentLink } from './agent-session.ts';

export interface AgentHubOptions {
  /** This node's name in lease owners (`remote:<nodeId>:<connectionId>`). */
  nodeId: string;
  /** How long a claimed task's lease lasts without a heartbeat. */
  leaseMs: number;
  /**
   * How often the hub looks for claimable tasks of connected agents that no event announced (a
   * retry whose backoff ran out, a task assigned on another node). Default 1,000 ms.
   */
  pollMs?: number;
  logger?: Logger;
}

/** A task of a closed connection: adoptable by the agent's next connection until its lease would run out. */
interface Orphan extends HeldTask {
  agentId: string;
  until: number;
}

/** Statuses in which a task a connection holds is no longer its to run. */
const ENDED = new Set(['CANCELLED', 'FAILED', 'COMPLETED', 'REVIEW_REQUESTED']);

/**
 * The `remote` executor's server side: the live connections of remote agents. A connection that
 * says `ready` gets its agent's ASSIGNED tasks, claimed with a lease
 * (`remote:<nodeId>:<connectionId>`) up to its free slots and pushed several per message. A
 * `task.changed` event that assigns a task to a connected agent triggers a claim (coalesced per
 * connection); a task a connection holds that ends elsewhere is cancelled on the agent. A closed
 * connection's tasks keep their leases: the agent's next connection to this node may take them
 * back (`ready.held`), or they expire and are retried on another agent.
 */
export class AgentHub implements SessionHost {
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly leases: TaskLeases;
  readonly bus: Bus;
  readonly logger: Logger | undefined;
  readonly #store: Store;
  readonly #pollMs: number;
  readonly #byAgent = new Map<string, Set<AgentSession>>();
  readonly #held = new Map<string, AgentSession>();
  readonly #orphans = new Map<string, Orphan>();
  /** Tasks being submitted straight to a connection (between their transaction and delivery). */
  readonly #direct = new Set<string>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(deps: { store: Store; tasks: TaskService; bus: Bus }, options: AgentHubOptions) {
    this.#store = deps.store;
    this.leases = deps.tasks.leases;
    this.bus = deps.bus;
    this.nodeId = options.nodeId;
    this.leaseMs = options.leaseMs;
    this.#pollMs = options.pollMs ?? 1000;
    this.logger = options.logger;
  }

  /**
   * Listens for task events and starts polling. Attempts an earlier run of this node held for
   * remote agents died with it: they are retried now (`lease_expired`) instead of when their
   * lease would have run out.
   */
  async start(): Promise<void> {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.bus.subscribe('task.changed', (event) => this.#changed(event));
    await this.leases.redrive(`remote:${this.nodeId}:`);
    this.#timer = setInterval(() => void this.#poll(), this.#pollMs);
    this.#timer.unref();
  }

  /** Closes every connection (1001); their tasks keep their leases. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#timer);
    for (const sessions of [...this.#byAgent.values()]) {
      for (const session of [...sessions]) session.close(1001, 'Ziggie is stopping');
    }
  }

  /**
   * Whether this agent may connect: it exists, and its executor binding is `{type: "remote"}` or
   * none (a task of an agent bound to another executor is the runner's to claim, not a socket's).
   */
  async admit(agentId: string): Promise<Agent> {
    const agent = await this.#store.agents.get(agentId);
    if (!agent) throw new ZiggieError('AGENT_NOT_FOUND', `no agent "${agentId}"`, { agentId });
    const type = agent.executor?.type;
    if (type !== undefined && type !== 'remote') {
      throw new ZiggieError(
        'EXECUTOR_BINDING_INVALID',
        `agent "${agentId}" is bound to the "${type}" executor: only agents with executor {type: "remote"} (or none) connect as remote agents`,
        { agentId, executor: type },
      );
    }
    return agent;
  }

  /**
   * A connection opened (authenticated, admitted): says `hello`; tasks follow its `ready`.
   * `maxMessageBytes`: the largest frame the transport takes (told to the agent).
   */
  connect(
    agent: Pick<Agent, 'id' | 'capacity'>,
    link: AgentLink,
    options: { maxMessageBytes?: number } = {},
  ): AgentSession {
    const id = `c${randomBytes(8).toString('hex')}`;
    const session = new AgentSession(this, link, agent, id, options.maxMessageBytes ?? 1024 * 1024);
    let sessions = this.#byAgent.get(agent.id);
    if (!sessions) {
      sessions = new Set();
      this.#byAgent.set(agent.id, sessions);
    }
    sessions.add(session);
    return session;
  }

  /** The connection closed: its tasks keep their leases, adoptable by the agent's next connection. */
  disconnect(session: AgentSession): void {
    if (session.closed) return;
    session.closed = true;
    const sessions = this.#byAgent.get(session.agentId);
    sessions?.delete(session);
    if (sessions?.size === 0) this.#byAgent.delete(session.agentId);
    const until = Date.now() + this.leaseMs;
    for (const [taskId, held] of session.tasks) {
      this.#held.delete(taskId);
      this.#orphans.set(taskId, { ...held, agentId: session.agentId, until });
    }
    session.tasks.clear();
  }

  /** Whether an agent has a live connection here. */
  isConnected(agentId: string): boolean {
    return this.#byAgent.has(agentId);
  }

  /** Counts, for status views and tests. */
  stats(): { agents: number; connections: number; tasks: number } {
    let connections = 0;
    for (const sessions of this.#byAgent.values()) connections += sessions.size;
    return { agents: this.#byAgent.size, connections, tasks: this.#held.size };
  }

  hold(taskId: string, session: AgentSession): void {
    this.#held.set(taskId, session);
  }

  release(taskId: string): void {
    this.#held.delete(taskId);
  }

  adopt(taskId: string, session: AgentSession): HeldTask | undefined {
    const orphan = this.#orphans.get(taskId);
    if (!orphan || orphan.agentId !== session.agentId || orphan.until < Date.now()) return undefined;
    this.#orphans.delete(taskId);
    this.#held.set(taskId, session);
    return { owner: orphan.owner, attempt: orphan.attempt };
  }

  slotFreed(session: AgentSession): void {
    if (session.unclaimed > 0) this.#schedule(session);
  }

  /**
   * Direct dispatch: a connection of `agentId` with a free slot takes a task being submitted to it
   * in the submit's own transaction (created IN_PROGRESS under this connection's lease), instead of
   * an assignment now and a claim after it — one transaction and one round of events less between
   * a submit and the agent. The slot is held until `deliver` (after the commit) or `release`.
   */
  reserve(agentId: string): DirectDispatch | undefined {
    for (const session of this.#byAgent.get(agentId) ?? []) {
      if (session.closed || !session.isReady || session.free <= 0) continue;
      session.reserved++;
      let settled = false;
      let bound: string | undefined;
      const settle = () => {
        if (settled) return false;
        settled = true;
        session.reserved--;
        return true;
      };
      return {
        owner: session.owner,
        leaseMs: this.leaseMs,
        bind: (taskId) => {
          bound = taskId;
          this.#direct.add(taskId);
        },
        deliver: (task) => {
          this.#direct.delete(task.id);
          if (!settle()) return;
          if (!session.closed) return session.deliver([task]);
          // The connection closed meanwhile: its next one may adopt the task, else the lease expires.
          this.#orphans.set(task.id, {
            owner: session.owner,
            attempt: task.attempts,
            agentId,
            until: Date.now() + this.leaseMs,
          });
        },
        release: () => {
          if (bound !== undefined) this.#direct.delete(bound);
          if (settle()) this.slotFreed(session);
        },
      };
    }
    return undefined;
  }

  #changed(event: TaskChangedEvent): void {
    if (event.status === 'ASSIGNED') {
      // A task dispatched directly is already its connection's: nothing to claim.
      if (event.assignee && !this.#direct.has(event.id)) this.#wake(event.assignee);
      return;
    }
    if (!ENDED.has(event.status)) return;
    this.#orphans.delete(event.id);
    this.#held
      .get(event.id)
      ?.revoke(event.id, `the task is ${event.status}${event.reason ? `: ${event.reason}` : ''}`);
  }

  /** The agent may have work: its connections claim (each coalesces). */
  #wake(agentId: string): void {
    const sessions = this.#byAgent.get(agentId);
    if (!sessions) return;
    for (const session of sessions) {
      session.unclaimed++;
      this.#schedule(session);
    }
  }

  #schedule(session: AgentSession): void {
    if (session.closed || !session.isReady || session.free <= 0) return;
    // A busy connection claims once a quarter of its slots is free, not at every freed slot: fewer,
    // larger claims (each is a query and an update), while the agent works on what it holds.
    if (session.tasks.size > 0 && session.free < Math.max(1, Math.floor(session.concurrency / 4))) return;
    if (session.claiming) {
      session.claimAgain = true;
      return;
    }
    if (session.scheduled) return;
    session.scheduled = true;
    // Events of one burst (one transaction, one tick) end in one claim.
    setImmediate(() => {
      session.scheduled = false;
      void this.#claim(session);
    });
  }

  async #claim(session: AgentSession): Promise<void> {
    if (session.claiming) return;
    session.claiming = true;
    try {
      do {
        session.claimAgain = false;
        const limit = session.free;
        if (session.closed || limit <= 0) break;
        const claimed = await this.leases.claim({
          owner: session.owner,
          leaseMs: this.leaseMs,
          limit,
          agentIds: [session.agentId],
        });
        // Fewer than asked: nothing else is claimable now (a retry in its backoff is found by the poll).
        session.unclaimed = claimed.length < limit ? 0 : Math.max(0, session.unclaimed - claimed.length);
        if (claimed.length === 0) continue;
        if (session.closed) {
          // Claimed for a connection that closed meanwhile: adoptable, else they expire.
          const until = Date.now() + this.leaseMs;
          for (const task of claimed) {
            this.#orphans.set(task.id, {
              owner: session.owner,
              attempt: task.attempts,
              agentId: session.agentId,
              until,
            });
          }
          break;
        }
        session.deliver(claimed);
      } while (session.claimAgain);
    } catch (error) {
      this.logger?.error({ err: error, agent: session.agentId }, 'claiming tasks for a remote agent failed');
    } finally {
      session.claiming = false;
    }
  }

  /** Finds claimable tasks no event announced (backoffs that ran out, other nodes' assignments). */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const now = Date.now();
      for (const [taskId, orphan] of this.#orphans) if (orphan.until < now) this.#orphans.delete(taskId);
      const idle = [...this.#byAgent].filter(([, sessions]) =>
        [...sessions].some((s) => s.isReady && s.free > 0 && !s.claiming),
      );
      for (let i = 0; i < idle.length; i += 500) {
        const chunk = idle.slice(i, i + 500).map(([agentId]) => agentId);
        for (const agentId of await this.#store.tasks.claimableAssignees(chunk, new Date()))
          this.#wake(agentId);
      }
    } catch (error) {
      this.logger?.error({ err: error }, 'looking for tasks of remote agents failed');
    } finally {
      this.#polling = false;
    }
  }
}
