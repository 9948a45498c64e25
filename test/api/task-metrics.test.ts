import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

/** The seeds' task metrics on `/metrics` of a real Ziggie, after tasks moved over REST. */
describe('task metrics', () => {
  let harness: Harness;
  const ok = async (path: string, body: unknown) => {
    const response = await fetch(`${harness.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    expect(response.status, JSON.stringify(json)).toBeLessThan(300);
    return json;
  };
  /** Every sample of `name` on one scrape, with its labels. */
  const scrape = async (name: string) => {
    const response = await fetch(`${harness.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    const samples: Array<{ labels: Record<string, string>; value: number }> = [];
    for (const line of (await response.text()).split('\n')) {
      const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
      );
      samples.push({ labels, value: Number(match[3]) });
    }
    return samples;
  };
  const sorted = (samples: Array<{ labels: Record<string, string>; value: number }>) =>
    samples.map((s) => `${Object.values(s.labels).join(',')} ${s.value}`).sort();

  beforeAll(async () => {
    harness = await startZiggie({
      workspaces: {
        studio: { path: '/studio' },
        lab: { path: '/lab', health: 'at-risk' },
        broken: { path: '/broken', health: 'blocked' },
      },
    });
    await ok('/api/agents/import', {
      agents: [
        { id: 'lead', name: 'Lead', tier: 'L1' },
        { id: 'dev', name: 'Dev', tier: 'L2', parent: 'lead', workspace: 'studio' },
        { id: 'micro', name: 'Micro', tier: 'L3', parent: 'dev', workspace: 'studio' },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await harness?.stop();
  });

  it('exposes no task series before any task moved, and the workspace health scores', async () => {
    expect(await scrape('agent_tasks_total')).toEqual([]);
    expect(await scrape('active_agents')).toEqual([]);
    expect(sorted(await scrape('workspace_health_score'))).toEqual(['broken 0', 'lab 0.5', 'studio 1']);
  });

  it('counts every status change by tier, workspace and status; times finished attempts; counts busy agents', async () => {
    const done = await ok('/api/tasks', { taskType: 'a', agentId: 'dev', workspace: 'studio' });
    await ok(`/api/tasks/${done.id}/start`, {});
    await ok(`/api/tasks/${done.id}/complete`, { output: 1 });
    const failed = await ok('/api/tasks', {
      taskType: 'b',
      agentId: 'dev',
      workspace: 'studio',
      maxAttempts: 1,
    });
    await ok(`/api/tasks/${failed.id}/start`, {});
    await ok(`/api/tasks/${failed.id}/fail`, { error: { message: 'no' } });
    await ok('/api/tasks', { taskType: 'c', agentId: 'micro' });
    const cancelled = await ok('/api/tasks', { taskType: 'd' });
    await ok(`/api/tasks/${cancelled.id}/cancel`, {});

    // Scraped at once: the scrape waits for the tier lookups of the events before it.
    expect(sorted(await scrape('agent_tasks_total'))).toEqual([
      'L2,studio,ASSIGNED 2',
      'L2,studio,COMPLETED 1',
      'L2,studio,FAILED 1',
      'L2,studio,IN_PROGRESS 2',
      'L3,none,ASSIGNED 1',
      'none,none,CANCELLED 1',
      'none,none,PENDING 2',
      'none,studio,PENDING 2',
    ]);
    const count = await scrape('agent_task_duration_seconds_count');
    expect(count).toEqual([{ labels: { agent_tier: 'L2', workspace: 'studio' }, value: 2 }]);
    const sum = await scrape('agent_task_duration_seconds_sum');
    expect(sum[0]?.value).toBeGreaterThanOrEqual(0);
    expect(sum[0]?.value).toBeLessThan(60);
    // micro holds its ASSIGNED task; dev holds none.
    expect(await scrape('active_agents')).toEqual([
      { labels: { agent_tier: 'L3', workspace: 'studio' }, value: 1 },
    ]);
  });

  it('follows workload and health changes at the next scrape', async () => {
    const task = await ok('/api/tasks', { taskType: 'e', agentId: 'dev', workspace: 'lab' });
    expect(sorted(await scrape('active_agents'))).toEqual(['L2,studio 1', 'L3,studio 1']);
    await ok(`/api/tasks/${task.id}/cancel`, {});
    expect(sorted(await scrape('active_agents'))).toEqual(['L3,studio 1']);
    const patched = await fetch(`${harness.baseUrl}/api/workspaces/lab`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ health: 'blocked' }),
    });
    expect(patched.status).toBe(200);
    expect(sorted(await scrape('workspace_health_score'))).toEqual(['broken 0', 'lab 0', 'studio 1']);
    expect(sorted(await scrape('agent_tasks_total'))).toContain('L2,lab,CANCELLED 1');
  });
});
