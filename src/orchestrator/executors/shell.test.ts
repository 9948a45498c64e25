import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZiggieError } from '../../core/errors.ts';
import { shellExecutor } from './shell.ts';
import { executionContext, runningTask } from './test-context.ts';
import { ExecutionError } from './types.ts';

const FIXTURE = join(import.meta.dirname, '../../../test/fixtures/shell-agent.mjs');

/** A context as the runner builds it, with the log kept for assertions. */
function makeContext(binding: Record<string, unknown>, input: unknown = null) {
  return executionContext(shellExecutor, binding, {
    task: runningTask({
      id: 'tsk_shell_1',
      taskType: 'render',
      workspace: 'studio',
      assignee: 'dev-a',
      input,
    }),
    agent: { id: 'dev-a', name: 'Dev A', tier: 'L2' },
  });
}

const node = (...args: string[]) => ({ type: 'shell', command: process.execPath, args: [FIXTURE, ...args] });
const run = (binding: Record<string, unknown>, input?: unknown) => {
  const made = makeContext(binding, input);
  return { ...made, result: shellExecutor.run(made.context) };
};

/** Gone, or a zombie nobody reaped yet (the container's init may not reap): either way not running. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function expectAllGone(pids: number[]): Promise<void> {
  for (let waited = 0; waited < 3000 && pids.some(isRunning); waited += 50) await sleep(50);
  expect(pids.filter(isRunning)).toEqual([]);
}

async function readPids(file: string): Promise<number[]> {
  for (let waited = 0; waited < 5000; waited += 25) {
    try {
      const pids = readFileSync(file, 'utf8').split(' ').map(Number);
      if (pids.length === 2) return pids;
    } catch {
      // not written yet
    }
    await sleep(25);
  }
  throw new Error(`the fixture never wrote ${file}`);
}

async function failure(promise: Promise<unknown>): Promise<ExecutionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExecutionError);
  return error as ExecutionError;
}

describe('shell executor', () => {
  let dir: string;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'ziggie-shell-')));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('passes input on stdin, the task in env, and parses JSON stdout as the output', async () => {
    const binding = { ...node('report'), cwd: dir, env: { FIXTURE_MODE: 'on' } };
    const { result } = run(binding, { scene: 'forest', frames: [1, 2] });
    const { output } = await result;
    expect(output).toEqual({
      argv: [],
      stdin: { scene: 'forest', frames: [1, 2] },
      env: {
        FIXTURE_MODE: 'on',
        ZIGGIE_TASK_ID: 'tsk_shell_1',
        ZIGGIE_TASK_TYPE: 'render',
        ZIGGIE_AGENT_ID: 'dev-a',
      },
      cwd: dir,
    });
  });

  it('replaces placeholders per argv element and never lets a value become shell syntax', async () => {
    const hostile = `it's "quoted" $(touch ${join(dir, 'pwned')}); rm -rf / \`id\` | cat`;
    const binding = node(
      'report',
      '{{task.id}}/{{task.type}}@{{task.workspace}}',
      '--agent={{agent.id}}',
      '{{input.title}}',
      '{{input.shot.frame}}',
      '{{input.shot}}',
      '{{input.missing.deeper}}',
      '{{input.constructor}}',
      '{{input}}',
    );
    const input = { title: hostile, shot: { frame: 12, final: true } };
    const { output } = await run(binding, input).result;
    expect((output as { argv: string[] }).argv).toEqual([
      'tsk_shell_1/render@studio',
      '--agent=dev-a',
      hostile,
      '12',
      '{"frame":12,"final":true}',
      '',
      '',
      JSON.stringify(input),
    ]);
    expect(() => readFileSync(join(dir, 'pwned'))).toThrow(/ENOENT/);
  });

  it('streams both streams line by line and answers plain text when stdout is not JSON', async () => {
    const { result, lines } = run(node('text'));
    expect((await result).output).toBe('first line\r\nsecond line\nno newline at the end');
    expect(lines('stdout')).toEqual(['first line', 'second line', 'no newline at the end']);
    expect(lines('stderr')).toEqual(['warming up']);
    expect(lines('info')).toEqual([
      expect.stringMatching(/^started /),
      expect.stringMatching(/exited with code 0$/),
    ]);
  });

  it('keeps 1 MiB of stdout for the output and cuts log lines at 64 KiB', async () => {
    const { result, lines } = run(node('flood', String(1536 * 1024)));
    const output = (await result).output as string;
    expect(output).toMatch(/\[stdout truncated: kept the first 1048576 of 1572864 bytes\]$/);
    expect(output.length).toBeLessThan(1024 * 1024 + 100);
    const [longLine] = lines('stdout');
    expect(longLine).toBe(`${'x'.repeat(64 * 1024)} [line cut at 65536 bytes]`);
  });

  it('fails with the exit code and the tail of stderr', async () => {
    const error = await failure(run(node('fail', '7')).result);
    expect(error.code).toBe('EXECUTOR_EXIT');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^exited with code 7: .*the real reason is at the end$/s);
    expect(error.message.length).toBeLessThan(2100);
  });

  it('kills the whole process tree on timeout, SIGKILL for what ignores SIGTERM', async () => {
    const pidFile = join(dir, 'pids');
    const started = Date.now();
    const error = await failure(run({ ...node('hang', pidFile, 'stubborn'), timeoutMs: 2500 }).result);
    expect(error.code).toBe('EXECUTOR_TIMEOUT');
    expect(error.message).toContain('2500 ms');
    // SIGTERM was ignored by the child: only the SIGKILL after the 2 s grace ended the run.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500 + 2000 - 50);
    await expectAllGone(await readPids(pidFile));
  });

  it('kills the whole process tree when the signal aborts, and throws the runner’s reason', async () => {
    const pidFile = join(dir, 'pids');
    const { result, controller } = run(node('hang', pidFile));
    const pids = await readPids(pidFile);
    expect(pids.every(isRunning)).toBe(true);
    const reason = new ExecutionError('TASK_CANCELLED', 'cancelled by op', { retryable: false });
    controller.abort(reason);
    expect(await failure(result)).toBe(reason);
    await expectAllGone(pids);
  });

  it('answers EXECUTOR_CANCELLED for an abort without an ExecutionError, before or during the run', async () => {
    const early = makeContext(node('report'));
    early.controller.abort();
    expect((await failure(shellExecutor.run(early.context))).code).toBe('EXECUTOR_CANCELLED');
    const { result, controller } = run(node('hang', join(dir, 'pids')));
    await readPids(join(dir, 'pids'));
    controller.abort();
    expect(await failure(result)).toMatchObject({ code: 'EXECUTOR_CANCELLED', retryable: false });
  });

  it('kills what a process left running when it exits', async () => {
    const pidFile = join(dir, 'pids');
    const { result, lines } = run(node('orphan', pidFile));
    expect((await result).output).toBe('done');
    expect(lines('info')).toContain('killing the processes it left running');
    await expectAllGone(await readPids(pidFile));
  });

  it('refuses to retry a command that does not exist, or a cwd that does not', async () => {
    const missing = await failure(run({ type: 'shell', command: join(dir, 'no-such-agent') }).result);
    expect(missing).toMatchObject({ code: 'EXECUTOR_SPAWN', retryable: false });
    expect(missing.message).toContain('no-such-agent');
    const noCwd = await failure(run({ ...node('report'), cwd: join(dir, 'gone') }).result);
    expect(noCwd).toMatchObject({ code: 'EXECUTOR_SPAWN', retryable: false });
    expect(noCwd.message).toContain(`cwd "${join(dir, 'gone')}" does not exist`);
  });

  it.each([
    [{ type: 'shell' }, /executor\.command: required/],
    [{ type: 'shell', command: '' }, /executor\.command: must not be empty/],
    [{ type: 'shell', command: 'x', args: 'a b' }, /executor\.args: expected a list/],
    [{ type: 'shell', command: 'x', args: ['{{task.secret}}'] }, /executor\.args\[0\]: unknown placeholder/],
    [
      { type: 'shell', command: 'x', env: { TOKEN: 42 } },
      /executor\.env\.TOKEN: expected a string \(got a number\)/,
    ],
    [{ type: 'shell', command: 'x', timeoutMs: 0 }, /executor\.timeoutMs: must be at least 1/],
    [{ type: 'shell', command: 'x', timeoutMs: 90_000_000 }, /executor\.timeoutMs: must be at most 86400000/],
    [{ type: 'shell', command: 'x', shell: true }, /executor\.shell: unknown key/],
    [{ type: 'http', command: 'x' }, /executor\.type: expected one of shell/],
  ])('refuses the binding %j, naming the field', (binding, message) => {
    const error = (() => {
      try {
        shellExecutor.parse(binding);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ZiggieError);
    expect(error).toMatchObject({
      code: 'EXECUTOR_BINDING_INVALID',
      message: expect.stringMatching(message),
    });
  });

  it('fills in the default timeout', () => {
    expect(shellExecutor.parse({ type: 'shell', command: 'x' })).toEqual({
      type: 'shell',
      command: 'x',
      timeoutMs: 600_000,
    });
  });
});
