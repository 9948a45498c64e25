import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, killAll, type RunningZiggie, startServer, ziggie } from '../helpers/cli-runner.ts';

/** `ziggie tasks …` against a real `ziggie start`, each command a real child process. */
const dir = mkdtempSync(join(tmpdir(), 'ziggie-tasks-cli-'));
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

beforeAll(async () => {
  server = await startServer(dir, { workspaces: { studio: { path: '/studio' } } });
  await rest('/api/agents/import', {
    agents: [
      { id: 'lead', name: 'Lead', tier: 'L1', workspace: 'studio' },
      {
        id: 'dev',
        name: 'Dev',
        tier: 'L2',
        parent: 'lead',
        workspace: 'studio',
        skills: ['python'],
        capacity: 3,
      },
    ],
  });
});

afterAll(async () => {
  try {
    expect(await server?.stop()).toBe(0);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('ziggie tasks', () => {
  it('--help names the subcommands', async () => {
    const run = await ziggie(['tasks', '--help'], { cwd: dir });
    for (const word of ['submit', 'list', 'show', 'cancel', 'approve', 'reject'])
      expect(run.stdout).toContain(word);
  });

  it('submits by skill, lists, shows, rejects and approves after review', async () => {
    const submitted = await remote([
      'tasks',
      'submit',
      'codegen',
      '--skill',
      'python',
      '--workspace',
      'studio',
      '--input',
      '{"spec":"api"}',
      '--idempotency-key',
      'cli-1',
    ]);
    expect(submitted).toMatchObject({ code: 0, stderr: '' });
    expect(submitted.stdout).toMatch(/^tsk_\w+ ASSIGNED → dev \(dev: 1\/1 required skills, load 0\/3\)\n$/);
    const id = submitted.stdout.split(' ')[0] ?? '';
    // The same key answers the same task.
    const again = await remote(['tasks', 'submit', 'codegen', '--idempotency-key', 'cli-1', '--json']);
    expect(JSON.parse(again.stdout).id).toBe(id);

    const list = await remote(['tasks', 'list', '--assignee', 'dev']);
    expect(list.stdout).toMatch(/^ID\s+TYPE\s+STATUS\s+PRIORITY\s+ASSIGNEE\s+WORKSPACE\s+ATTEMPTS$/m);
    expect(list.stdout).toMatch(
      new RegExp(`^${id}\\s+codegen\\s+ASSIGNED\\s+MEDIUM\\s+dev\\s+studio\\s+0/3$`, 'm'),
    );

    await rest(`/api/tasks/${id}/start`, {});
    await rest(`/api/tasks/${id}/review`, { output: { files: 1 } });
    const inbox = await remote(['tasks', 'list', '--approvals']);
    expect(inbox.stdout).toContain(id);
    const rejected = await remote(['tasks', 'reject', id, '--feedback', 'needs tests']);
    expect(rejected).toMatchObject({ code: 0, stdout: `${id} ASSIGNED → dev (rejections: 1)\n` });
    await rest(`/api/tasks/${id}/start`, {});
    await rest(`/api/tasks/${id}/review`, { output: { files: 2 } });
    expect(await remote(['tasks', 'approve', id])).toMatchObject({ code: 0, stdout: `${id} COMPLETED\n` });

    const shown = await remote(['tasks', 'show', id]);
    expect(shown.stdout).toMatch(/^status:\s+COMPLETED$/m);
    expect(shown.stdout).toMatch(/^feedback:\s+needs tests$/m);
    expect(shown.stdout).toMatch(/REVIEW_REQUESTED → REJECTED {2}by user:\S+ {2}\(needs tests\)$/m);
    expect(shown.stdout.match(/→/g)?.length).toBe(10);
  });

  it('cancels, and refuses bad input with one line naming the code', async () => {
    const { id } = JSON.parse((await remote(['tasks', 'submit', 'later', '--json'])).stdout);
    expect(await remote(['tasks', 'cancel', id, '--reason', 'not needed'])).toMatchObject({
      code: 0,
      stdout: `${id} CANCELLED\n`,
    });
    expectFailure(
      await remote(['tasks', 'cancel', id]),
      'TASK_TRANSITION_INVALID',
      'a task in CANCELLED cannot move to CANCELLED; CANCELLED is terminal',
    );
    expectFailure(
      await remote(['tasks', 'submit', 't', '--agent', 'ghost']),
      'AGENT_NOT_FOUND',
      'no agent with id "ghost"',
    );
    expectFailure(
      await remote(['tasks', 'show', 'tsk_nope']),
      'TASK_NOT_FOUND',
      'no task with id "tsk_nope"',
    );
    expectFailure(
      await remote(['tasks', 'reject', id]),
      'CLI_USAGE',
      'tasks reject: --feedback <text> is required',
    );
    expectFailure(
      await remote(['tasks', 'submit', 't', '--input', '{nope']),
      'CLI_USAGE',
      /^--input: not valid JSON/,
    );
    expectFailure(
      await remote(['tasks', 'submit', 't', '--priority', 'URGENT']),
      'VALIDATION_FAILED',
      /priority/,
    );
  });
});
