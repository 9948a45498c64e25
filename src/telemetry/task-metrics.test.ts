import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { TaskChangedEvent } from '../bus/events.ts';
import { MemoryBus } from '../bus/memory-bus.ts';
import { registerTaskMetrics, type TaskMetricsSources } from './task-metrics.ts';

const event = (overrides: Partial<TaskChangedEvent>): TaskChangedEvent => ({
  id: 'tsk_1',
  status: 'ASSIGNED',
  from: 'PENDING',
  assignee: 'dev',
  workspace: 'ws',
  parentId: null,
  taskType: 't',
  attempts: 0,
  reason: null,
  at: new Date(),
  ...overrides,
});

/** Sources whose tier lookups the test resolves by hand, counting them. */
function manualSources() {
  const waiting: Array<{
    id: string;
    resolve: (tier: string | undefined) => void;
    reject: (e: Error) => void;
  }> = [];
  const sources: TaskMetricsSources = {
    tierOf: (id) => new Promise((resolve, reject) => waiting.push({ id, resolve, reject })),
    activeAgents: async () => [],
    workspaceHealth: async () => [],
  };
  return { sources, waiting };
}

async function values(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric(name)?.get();
  return Object.fromEntries(
    (metric?.values ?? [])
      .filter((v) => !('metricName' in v) || v.metricName === `${name}_count` || v.metricName === undefined)
      .map((v) => [Object.values(v.labels).join(','), v.value]),
  );
}

describe('registerTaskMetrics', () => {
  it('a scrape waits for the tier lookups of the events before it; one lookup per agent while fresh', async () => {
    const registry = new Registry();
    const bus = new MemoryBus();
    const { sources, waiting } = manualSources();
    registerTaskMetrics(registry, bus, sources);
    bus.publish('task.changed', event({}));
    bus.publish('task.changed', event({ status: 'IN_PROGRESS' }));
    bus.publish('task.changed', event({ status: 'PENDING', assignee: null, workspace: null }));
    expect(waiting.map((w) => w.id)).toEqual(['dev']);
    let scraped = false;
    const scrape = registry.metrics().then((text) => {
      scraped = true;
      return text;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(scraped).toBe(false);
    waiting[0]?.resolve('L2');
    const text = await scrape;
    expect(text).toContain('agent_tasks_total{agent_tier="L2",workspace="ws",status="ASSIGNED"} 1');
    expect(text).toContain('agent_tasks_total{agent_tier="L2",workspace="ws",status="IN_PROGRESS"} 1');
    expect(text).toContain('agent_tasks_total{agent_tier="none",workspace="none",status="PENDING"} 1');
    // Cached now: counted at once, no new lookup.
    bus.publish('task.changed', event({ status: 'COMPLETED', durationMs: 1500 }));
    expect(waiting).toHaveLength(1);
    expect(await values(registry, 'agent_task_duration_seconds')).toMatchObject({ 'L2,ws': 1 });
  });

  it('labels an unknown agent or a failed lookup `unknown`, and looks up again after the TTL', async () => {
    const registry = new Registry();
    const bus = new MemoryBus();
    const { sources, waiting } = manualSources();
    registerTaskMetrics(registry, bus, sources, { tierTtlMs: 1 });
    bus.publish('task.changed', event({ assignee: 'ghost' }));
    bus.publish('task.changed', event({ assignee: 'flaky' }));
    waiting[0]?.resolve(undefined);
    waiting[1]?.reject(new Error('db down'));
    expect(await values(registry, 'agent_tasks_total')).toEqual({ 'unknown,ws,ASSIGNED': 2 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    bus.publish('task.changed', event({ assignee: 'flaky' }));
    expect(waiting.map((w) => w.id)).toEqual(['ghost', 'flaky', 'flaky']);
    waiting[2]?.resolve('L3');
    expect(await values(registry, 'agent_tasks_total')).toEqual({
      'unknown,ws,ASSIGNED': 2,
      'L3,ws,ASSIGNED': 1,
    });
  });

  it('reads active agents and workspace health at scrape time; unsubscribing removes the series', async () => {
    const registry = new Registry();
    const bus = new MemoryBus();
    let active = [{ tier: 'L2', workspace: null as string | null, count: 3 }];
    const off = registerTaskMetrics(registry, bus, {
      tierOf: async () => 'L1',
      activeAgents: async () => active,
      workspaceHealth: async () => [
        { name: 'a', health: 'on-track' },
        { name: 'b', health: 'at-risk' },
        { name: 'c', health: 'blocked' },
      ],
    });
    expect(await values(registry, 'active_agents')).toEqual({ 'L2,none': 3 });
    active = [{ tier: 'L3', workspace: 'ws', count: 1 }];
    expect(await values(registry, 'active_agents')).toEqual({ 'L3,ws': 1 });
    expect(await values(registry, 'workspace_health_score')).toEqual({ a: 1, b: 0.5, c: 0 });
    off();
    expect(registry.getSingleMetric('agent_tasks_total')).toBeUndefined();
    bus.publish('task.changed', event({}));
    expect((await registry.metrics()).trim()).toBe('');
  });
});
