import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  expectFailure,
  killAll,
  type Run,
  type RunningZiggie,
  startServer,
  ziggie,
} from '../helpers/cli-runner.ts';

/** `ziggie tasks watch` against a real `ziggie start`, while other requests move the task. */
const dir = mkdtempSync(join(tmpdir(), 'ziggie-tasks-watch-'));
let server: RunningZiggie;
const watchers = new Set<ChildProcess>();

const post = async (path: string, body: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.status, text).toBeLessThan(300);
  return JSON.parse(text);
};

const submit = async (extra: Record<string, unknown> = {}): Promise<string> =>
  (await post('/api/tasks', { taskType: 'render', agentId: 'dev', ...extra })).id;

/**
 * Runs `ziggie tasks watch <id>` and resolves `started` once it printed the task's status (its
 * stream is open by then), and `finished` when it exits.
 */
function watch(id: string, ...flags: string[]): { started: Promise<void>; finished: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, 'tasks', 'watch', id, '--gateway', server.url, ...flags], {
    cwd: dir,
  });
  watchers.add(child);
  let stdout = '';
  let stderr = '';
  let started: () => void = () => {};
  const startedPromise = new Promise<void>((resolve) => {
    started = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('\n')) started();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const finished = new Promise<Run>((resolve) => {
    child.on('close', (code) => {
      watchers.delete(child);
      started();
      resolve({ code, stdout, stderr });
    });
  });
  return { started: startedPromise, finished };
}

beforeAll(async () => {
  server = await startServer(dir, {});
  await post('/api/agents/import', { agents: [{ id: 'dev', name: 'Dev', tier: 'L2', capacity: 10 }] });
});

afterAll(async () => {
  try {
    for (const child of watchers) child.kill('SIGKILL');
    expect(await server?.stop()).toBe(0);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

const TIME = '\\d\\d:\\d\\d:\\d\\d';

describe('ziggie tasks watch', () => {
  it('prints the status, then each change as it happens, and exits 0 when the task completes', async () => {
    const id = await submit();
    const watcher = watch(id);
    await watcher.started;
    await post(`/api/tasks/${id}/start`, {});
    await post(`/api/tasks/${id}/complete`, { output: { frames: 24 } });
    const run = await watcher.finished;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^${id} \\(render\\): ASSIGNED, assignee dev, attempt 0/3\\n` +
          `${TIME}  ASSIGNED → IN_PROGRESS\\n` +
          `${TIME}  IN_PROGRESS → COMPLETED\\n` +
          'output: \\{"frames":24\\}\\n$',
      ),
    );
  });

  it('exits non-zero with the reason when the task is cancelled', async () => {
    const id = await submit();
    const watcher = watch(id);
    await watcher.started;
    await post(`/api/tasks/${id}/cancel`, { reason: 'not needed' });
    const run = await watcher.finished;
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(new RegExp(`${TIME}  ASSIGNED → CANCELLED: not needed\\n$`));
    expect(run.stderr).toBe(`task ${id} CANCELLED: not needed\n`);
  });

  it('follows a retry after FAILED, and exits non-zero with the error when FAILED is final', async () => {
    const id = await submit({ maxAttempts: 2 });
    const watcher = watch(id);
    await watcher.started;
    await post(`/api/tasks/${id}/start`, {});
    await post(`/api/tasks/${id}/fail`, { error: { code: 'E1', message: 'first try broke' } });
    await post(`/api/tasks/${id}/start`, {});
    await post(`/api/tasks/${id}/fail`, { error: { code: 'E2', message: 'second try broke' } });
    const run = await watcher.finished;
    expect(run.code).toBe(2);
    const changes = run.stdout
      .split('\n')
      .slice(1, -1)
      .map((line) => line.replace(/^\S+ {2}/, '').replace(/:.*$/, ''));
    expect(changes).toEqual([
      'ASSIGNED → IN_PROGRESS',
      'IN_PROGRESS → FAILED',
      'FAILED → ASSIGNED (dev)',
      'ASSIGNED → IN_PROGRESS',
      'IN_PROGRESS → FAILED',
    ]);
    expect(run.stderr).toBe(`task ${id} FAILED: E2: second try broke\n`);
  });

  it('--json prints the status, then one feed item a line', async () => {
    const id = await submit();
    const watcher = watch(id, '--json');
    await watcher.started;
    await post(`/api/tasks/${id}/start`, {});
    await post(`/api/tasks/${id}/complete`, {});
    const run = await watcher.finished;
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({ id: null, topic: 'tasks', kind: 'ASSIGNED', task: id, snapshot: true }),
      expect.objectContaining({
        id: expect.any(String),
        topic: 'tasks',
        kind: 'IN_PROGRESS',
        from: 'ASSIGNED',
      }),
      expect.objectContaining({ topic: 'tasks', kind: 'COMPLETED', from: 'IN_PROGRESS', task: id }),
    ]);
  });

  it('ends at once for a task that already finished, and fails for an unknown one', async () => {
    const id = await submit();
    await post(`/api/tasks/${id}/cancel`, {});
    const done = await watch(id).finished;
    expect(done.code).toBe(3);
    expect(done.stdout).toBe(`${id} (render): CANCELLED, assignee dev, attempt 0/3\n`);
    expect(done.stderr).toBe(`task ${id} CANCELLED: no reason given\n`);

    const missing = await ziggie(['tasks', 'watch', 'tsk_missing', '--gateway', server.url], { cwd: dir });
    expectFailure(missing, 'TASK_NOT_FOUND', /tsk_missing/);
  });
});
