import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Bus } from '../bus/bus.ts';
import type { TaskChangedEvent } from '../bus/events.ts';

/** `workspace_health_score` of each workspace health (documented in docs/metrics.md). */
export const HEALTH_SCORES: Readonly<Record<string, number>> = { 'on-track': 1, 'at-risk': 0.5, blocked: 0 };

/** The label for a task or agent without a workspace, and for a task without an agent's tier. */
export const NONE = 'none';
/** The tier label of an assignee the registry does not know (deleted, or the lookup failed). */
export const UNKNOWN = 'unknown';

/** The series this file registers (the seeds' names). */
const NAMES = {
  tasks: 'agent_tasks_total',
  duration: 'agent_task_duration_seconds',
  active: 'active_agents',
  health: 'workspace_health_score',
} as const;

/** Where the task metrics read what events do not carry. */
export interface TaskMetricsSources {
  /** An agent's tier; undefined when there is no such agent. */
  tierOf(agentId: string): Promise<string | undefined>;
  /** Agents with work in hand (workload > 0) per tier and workspace, read at each scrape. */
  activeAgents(): Promise<ReadonlyArray<{ tier: string; workspace: string | null; count: number }>>;
  /** Every workspace's health, read at each scrape. */
  workspaceHealth(): Promise<ReadonlyArray<{ name: string; health: string }>>;
}

export interface TaskMetricsOptions {
  /** How long a looked-up tier is used before it is looked up again. Default 60 s. */
  tierTtlMs?: number;
  /** How many agents' tiers are remembered. Default 10,000. */
  tierCacheSize?: number;
}

/**
 * The seeds' task metrics, registered in `registry`: `agent_tasks_total` and
 * `agent_task_duration_seconds` from the bus's `task.changed` events (labelled with the
 * assignee's tier, looked up once per agent and cached), `active_agents` and
 * `workspace_health_score` read from the store when scraped. Returns the unsubscribe function.
 */
export function registerTaskMetrics(
  registry: Registry,
  bus: Bus,
  sources: TaskMetricsSources,
  options: TaskMetricsOptions = {},
): () => void {
  const tiers = new TierCache(sources.tierOf, options.tierTtlMs ?? 60_000, options.tierCacheSize ?? 10_000);
  // Events whose tier is being looked up: a scrape waits for them, so that it counts every move before it.
  const inFlight = new Set<Promise<void>>();
  const settle = async () => {
    await Promise.all(inFlight);
  };
  const tasks = new Counter({
    name: NAMES.tasks,
    help: 'Task status changes, by the assignee tier, workspace and the new status.',
    labelNames: ['agent_tier', 'workspace', 'status'],
    registers: [registry],
    collect: settle,
  });
  const duration = new Histogram({
    name: NAMES.duration,
    help: 'How long task attempts ran, observed when a task completes or fails, by assignee tier and workspace.',
    labelNames: ['agent_tier', 'workspace'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200],
    registers: [registry],
    collect: settle,
  });
  new Gauge({
    name: NAMES.active,
    help: 'Agents with work in hand (workload > 0), by tier and workspace.',
    labelNames: ['agent_tier', 'workspace'],
    registers: [registry],
    async collect() {
      // A failed read keeps the last values: the other metrics are still served.
      const rows = await sources.activeAgents().catch(() => undefined);
      if (!rows) return;
      this.reset();
      for (const row of rows) this.inc({ agent_tier: row.tier, workspace: row.workspace ?? NONE }, row.count);
    },
  });
  new Gauge({
    name: NAMES.health,
    help: 'Workspace health: 1 on-track, 0.5 at-risk, 0 blocked.',
    labelNames: ['workspace'],
    registers: [registry],
    async collect() {
      const rows = await sources.workspaceHealth().catch(() => undefined);
      if (!rows) return;
      this.reset();
      for (const row of rows) {
        const score = HEALTH_SCORES[row.health];
        if (score !== undefined) this.set({ workspace: row.name }, score);
      }
    },
  });

  const count = (event: TaskChangedEvent, tier: string) => {
    const workspace = event.workspace ?? NONE;
    tasks.inc({ agent_tier: tier, workspace, status: event.status });
    if ((event.status === 'COMPLETED' || event.status === 'FAILED') && event.durationMs !== undefined) {
      duration.observe({ agent_tier: tier, workspace }, event.durationMs / 1000);
    }
  };
  const unsubscribe = bus.subscribe('task.changed', (event) => {
    if (event.assignee === null) return count(event, NONE);
    const tier = tiers.cached(event.assignee);
    if (tier !== undefined) return count(event, tier);
    const done = tiers.load(event.assignee).then(
      (found) => count(event, found ?? UNKNOWN),
      () => count(event, UNKNOWN),
    );
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  });
  return () => {
    unsubscribe();
    for (const name of Object.values(NAMES)) registry.removeSingleMetric(name);
  };
}

/** Agents' tiers, each looked up once (concurrent lookups of one agent share it) and kept for a while. */
class TierCache {
  readonly #lookup: (agentId: string) => Promise<string | undefined>;
  readonly #ttlMs: number;
  readonly #size: number;
  readonly #entries = new Map<string, { tier: string | undefined; until: number }>();
  readonly #loading = new Map<string, Promise<string | undefined>>();

  constructor(lookup: (agentId: string) => Promise<string | undefined>, ttlMs: number, size: number) {
    this.#lookup = lookup;
    this.#ttlMs = ttlMs;
    this.#size = size;
  }

  /** The tier while it is fresh; undefined when it must be looked up (or the agent is unknown). */
  cached(agentId: string): string | undefined {
    const entry = this.#entries.get(agentId);
    return entry && entry.until > Date.now() ? entry.tier : undefined;
  }

  load(agentId: string): Promise<string | undefined> {
    let loading = this.#loading.get(agentId);
    if (!loading) {
      loading = this.#lookup(agentId).then((tier) => {
        this.#entries.delete(agentId);
        // Oldest first out (Map keeps insertion order).
        if (this.#entries.size >= this.#size) this.#entries.delete(this.#entries.keys().next().value ?? '');
        this.#entries.set(agentId, { tier, until: Date.now() + this.#ttlMs });
        return tier;
      });
      const current = loading;
      this.#loading.set(agentId, current);
      void current.then(
        () => this.#loading.delete(agentId),
        () => this.#loading.delete(agentId),
      );
    }
    return loading;
  }
}
