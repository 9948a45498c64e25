import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, killAll, type RunningZiggie, startServer, ziggie } from '../helpers/cli-runner.ts';

/** `ziggie usage` against a real `ziggie start`, after tasks completed over REST with their usage. */
const dir = mkdtempSync(join(tmpdir(), 'ziggie-usage-cli-'));
let server: RunningZiggie;
const remote = (args: readonly string[]) => ziggie([...args, '--gateway', server.url], { cwd: dir });
const rest = async (path: string, body: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return response.json();
};
const run = async (agentId: string, workspace: string | undefined, usage: Record<string, number>) => {
  const task = await rest('/api/tasks', { taskType: 'work', agentId, ...(workspace ? { workspace } : {}) });
  await rest(`/api/tasks/${task.id}/start`, {});
  await rest(`/api/tasks/${task.id}/complete`, { usage });
};

beforeAll(async () => {
  server = await startServer(dir, { workspaces: { studio: { path: '/studio' } } });
  await rest('/api/agents/import', {
    agents: [
      { id: 'lead', name: 'Lead', tier: 'L1' },
      { id: 'dev', name: 'Dev', tier: 'L2', parent: 'lead', team: 'bmad', workspace: 'studio' },
      { id: 'qa', name: 'QA', tier: 'L2', parent: 'lead' },
    ],
  });
  await run('dev', 'studio', { inputTokens: 100, outputTokens: 20, cost: 0.5 });
  await run('dev', 'studio', { inputTokens: 50, outputTokens: 30, cost: 0.25 });
  await run('qa', undefined, { inputTokens: 7, outputTokens: 3, cost: 0.0032 });
}, 60_000);

afterAll(async () => {
  try {
    expect(await server?.stop()).toBe(0);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('ziggie usage', () => {
  it('prints a table per agent (the default) with a total line', async () => {
    const result = await remote(['usage']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+TASKS\s+COMPLETED\s+FAILED\s+INPUT\s+OUTPUT\s+COST\s+TIME\s+AVG$/);
    expect(lines[1]).toMatch(/^dev\s+2\s+2\s+0\s+150\s+50\s+0\.75\s+\d[\d.]*m?s\s+\d[\d.]*m?s$/);
    expect(lines[2]).toMatch(/^qa\s+1\s+1\s+0\s+7\s+3\s+0\.0032\s+\d[\d.]*m?s\s+\d[\d.]*m?s$/);
    expect(lines[3]).toBe('total: 3 tasks, 210 tokens, cost 0.7532');
    expect(lines).toHaveLength(5);
  });

  it('rolls up by team and by workspace; --json prints the API answer', async () => {
    const teams = await remote(['usage', '--by', 'team']);
    expect(teams.stdout).toMatch(/^TEAM\s+TASKS/);
    expect(teams.stdout).toMatch(/^bmad\s+2\s+2\s+0\s+150\s+50\s+0\.75\s/m);
    expect(teams.stdout).toMatch(/^\(no team\)\s+1\s+1\s/m);
    const json = await remote(['usage', '--by', 'workspace', '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ groupBy: 'workspace', from: null, to: null, workspace: null });
    expect(report.groups.map((g: { key: string | null; tasks: number }) => [g.key, g.tasks])).toEqual([
      ['studio', 2],
      [null, 1],
    ]);
    const filtered = await remote(['usage', '--workspace', 'studio', '--from', '2020-01-01', '--json']);
    expect(JSON.parse(filtered.stdout).groups.map((g: { key: string }) => g.key)).toEqual(['dev']);
    expect((await remote(['usage', '--from', '2999-01-01'])).stdout).toBe('no tasks\n');
  });

  it('refuses an unknown grouping and a bad time with one line naming the code', async () => {
    expectFailure(
      await remote(['usage', '--by', 'tier']),
      'CLI_USAGE',
      /'tier' is invalid\. Allowed choices are agent, team, workspace\..*ziggie usage --help/,
    );
    expectFailure(await remote(['usage', '--from', 'yesterday']), 'VALIDATION_FAILED', /^from: /);
  });
});
