import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { abortError, parseBinding } from './binding.ts';
import { type ExecutionContext, ExecutionError, type ExecutionResult, type Executor } from './types.ts';

/**
 * The `shell` executor (issue 4 §5): runs a command as a child process per attempt. The task input
 * goes in as JSON on stdin, stdout comes back as the output, and both streams go to the task log
 * line by line. The command is never run through a shell: the args are a template whose
 * placeholders are replaced per argv element, so input values can never become shell syntax.
 */

const MINUTE = 60_000;
/** Between SIGTERM and SIGKILL to the process group. */
const KILL_GRACE_MS = 2_000;
const MAX_LINE_BYTES = 64 * 1024;
const MAX_OUTPUT_BYTES = 1024 * 1024;
const STDERR_TAIL_BYTES = 2 * 1024;

const FIXED_PLACEHOLDERS = ['task.id', 'task.type', 'task.workspace', 'agent.id', 'input'];
const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

function isKnownPlaceholder(name: string): boolean {
  return FIXED_PLACEHOLDERS.includes(name) || /^input(\.[^.]+)+$/.test(name);
}

function unknownPlaceholders(arg: string): string[] {
  return [...arg.matchAll(PLACEHOLDER)].map((m) => m[1] as string).filter((n) => !isKnownPlaceholder(n));
}

const ShellBindingSchema = z.strictObject({
  type: z.literal('shell'),
  command: z.string().min(1),
  args: z
    .array(
      z.string().refine((arg) => unknownPlaceholders(arg).length === 0, {
        message: `unknown placeholder (allowed: ${FIXED_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}, {{input.<path>}})`,
      }),
    )
    .optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string().min(1), z.string()).optional(),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(24 * 60 * MINUTE)
    .default(10 * MINUTE),
});
export type ShellBinding = z.infer<typeof ShellBindingSchema>;

export const shellExecutor: Executor<ShellBinding> = {
  type: 'shell',
  parse: (binding) => parseBinding('shell', ShellBindingSchema, binding),
  run(context) {
    if (context.signal.aborted) return Promise.reject(abortError(context.signal));
    return runProcess(context);
  },
};

/** `args` with their placeholders replaced; each element stays one argv element. */
function expandArgs(args: readonly string[], context: ExecutionContext): string[] {
  const { task, agent } = context;
  const value = (name: string): string => {
    if (name === 'task.id') return task.id;
    if (name === 'task.type') return task.taskType;
    if (name === 'task.workspace') return task.workspace ?? '';
    if (name === 'agent.id') return agent.id;
    if (name === 'input') return JSON.stringify(task.input ?? null);
    return show(valueAt(task.input, name.split('.').slice(1)));
  };
  // One pass with a replacer: a substituted value is never scanned for placeholders again.
  return args.map((arg) => arg.replace(PLACEHOLDER, (_, name: string) => value(name)));
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const key of path) {
    // Own keys only, so `{{input.constructor}}` finds nothing rather than a prototype's function.
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function show(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function runProcess(context: ExecutionContext & { binding: ShellBinding }): Promise<ExecutionResult> {
  const { task, agent, binding, signal } = context;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(binding.command, expandArgs(binding.args ?? [], context), {
        cwd: binding.cwd,
        env: {
          ...process.env,
          ...binding.env,
          ZIGGIE_TASK_ID: task.id,
          ZIGGIE_TASK_TYPE: task.taskType,
          ZIGGIE_AGENT_ID: agent.id,
        },
        shell: false,
        // Its own process group, so that kill(-pid) reaches every process it starts.
        detached: true,
        stdio: 'pipe',
      });
    } catch (error) {
      // spawn throws for arguments it refuses outright (a NUL byte from the input, say): the same
      // input will be refused again.
      const message = `cannot start "${binding.command}": ${String(error)}`;
      reject(new ExecutionError('EXECUTOR_SPAWN', message, { retryable: false, cause: error }));
      return;
    }

    if (child.pid !== undefined) context.log('info', `started "${binding.command}" as process ${child.pid}`);
    let settled = false;
    /** Why we are stopping it (timeout, cancellation); wins over whatever exit that causes. */
    let failure: ExecutionError | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    const group = new ProcessGroup(child.pid);
    const stdout = new Capture(MAX_OUTPUT_BYTES);
    const outLines = new LineSplitter((line) => context.log('stdout', line));
    const errLines = new LineSplitter((line) => context.log('stderr', line));
    let stderrTail = Buffer.alloc(0);

    /** SIGTERM to the whole group now, SIGKILL after the grace to whatever ignored it. */
    const killTree = () => {
      group.kill('SIGTERM');
      killTimer ??= setTimeout(() => group.kill('SIGKILL'), KILL_GRACE_MS).unref();
    };
    const stop = (reason: ExecutionError) => {
      failure ??= reason;
      killTree();
    };
    const timeout = setTimeout(
      () =>
        stop(
          new ExecutionError(
            'EXECUTOR_TIMEOUT',
            `did not finish within ${binding.timeoutMs} ms (timeoutMs); its processes were killed`,
          ),
        ),
      binding.timeoutMs,
    );
    const onAbort = () => stop(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });

    const settle = (error: ExecutionError | undefined, result?: ExecutionResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      clearTimeout(closeTimer);
      signal.removeEventListener('abort', onAbort);
      // Keep the SIGKILL armed while leftovers live; once the group is gone its id may be reused.
      if (!group.alive()) clearTimeout(killTimer);
      if (error) reject(error);
      else resolve(result as ExecutionResult);
    };

    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // only spawn failures end here; the rest ends at 'close'
      settle(spawnError(error, binding));
    });
    // A child that does not read its stdin closes it early (EPIPE); its exit code tells the story.
    child.stdin?.on('error', () => {});
    child.stdin?.end(JSON.stringify(task.input ?? null));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      outLines.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      errLines.push(chunk);
      stderrTail = Buffer.concat([stderrTail, chunk]).subarray(-STDERR_TAIL_BYTES);
    });

    child.on('exit', (code, exitSignal) => {
      context.log(
        'info',
        `process ${child.pid} ${code === null ? `got ${exitSignal}` : `exited with code ${code}`}`,
      );
      // Processes it started may outlive it (and hold our pipes open): no orphans are left behind.
      if (group.alive()) {
        if (!failure) context.log('info', 'killing the processes it left running');
        killTree();
      }
      // Last resort: a process that left the group yet holds our pipes must not keep the run open.
      closeTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, KILL_GRACE_MS + 1_000);
    });

    child.on('close', (code, exitSignal) => {
      outLines.end();
      errLines.end();
      if (failure) return settle(failure);
      if (code === 0) return settle(undefined, { output: stdout.output() });
      const how = code === null ? `was killed by signal ${exitSignal}` : `exited with code ${code}`;
      const tail = stderrTail.toString('utf8').trim();
      settle(new ExecutionError('EXECUTOR_EXIT', tail ? `${how}: ${tail}` : `${how} (no stderr)`));
    });
  });
}

function spawnError(error: NodeJS.ErrnoException, binding: ShellBinding): ExecutionError {
  // spawn reports a missing cwd as ENOENT on the command: say which it was.
  const what =
    error.code === 'ENOENT' && binding.cwd && !existsSync(binding.cwd)
      ? `cwd "${binding.cwd}" does not exist`
      : error.message;
  // A missing or non-executable command will not appear by retrying; running out of processes may pass.
  const retryable = !['ENOENT', 'EACCES', 'ENOTDIR'].includes(error.code ?? '');
  return new ExecutionError('EXECUTOR_SPAWN', `cannot start "${binding.command}": ${what}`, {
    retryable,
    cause: error,
  });
}

/** The child's process group (its pid, as it was started `detached`). */
class ProcessGroup {
  private readonly pid: number | undefined;

  constructor(pid: number | undefined) {
    this.pid = pid;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: nothing is left in the group.
    }
  }

  alive(): boolean {
    if (this.pid === undefined) return false;
    try {
      process.kill(-this.pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/** The first `limit` bytes of stdout, turned into the task's output at exit. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.kept >= this.limit) return;
    const part = chunk.subarray(0, this.limit - this.kept);
    this.chunks.push(part);
    this.kept += part.length;
  }

  /** JSON when the whole of stdout is JSON, else the text (saying so when it was cut). */
  output(): unknown {
    const text = Buffer.concat(this.chunks).toString('utf8').trim();
    if (this.total > this.kept) {
      return `${text}\n[stdout truncated: kept the first ${this.kept} of ${this.total} bytes]`;
    }
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
}

/**
 * Cuts a byte stream into lines for the task log. Splitting bytes on `\n` is safe in UTF-8 (the
 * byte never occurs inside a multi-byte character). A line over the cap keeps its first part.
 */
class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private pending = false;
  private cut = false;
  private readonly emit: (line: string) => void;

  constructor(emit: (line: string) => void) {
    this.emit = emit;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.append(chunk.subarray(start, nl));
      this.flush();
      start = nl + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
  }

  /** At exit: the last line, when it had no newline. */
  end(): void {
    if (this.pending) this.flush();
  }

  private append(bytes: Buffer): void {
    this.pending = true;
    const room = MAX_LINE_BYTES - this.size;
    if (bytes.length > room) this.cut = true;
    if (room <= 0) return;
    const part = bytes.subarray(0, room);
    this.parts.push(part);
    this.size += part.length;
  }

  private flush(): void {
    const line = Buffer.concat(this.parts).toString('utf8').replace(/\r$/, '');
    this.emit(this.cut ? `${line} [line cut at ${MAX_LINE_BYTES} bytes]` : line);
    this.parts = [];
    this.size = 0;
    this.pending = false;
    this.cut = false;
  }
}
