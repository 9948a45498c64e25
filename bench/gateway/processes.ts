import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * The benchmark's child processes (servers it starts from this folder): every one is tracked and
 * stopped, whatever happens — on exit, Ctrl-C or SIGTERM they are killed.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

const children = new Set<ChildProcess>();

/** Spawns a Node script that prints `LISTENING <url>` once ready; resolves with the URL. */
export async function startServer(
  script: string,
  args: string[],
  options: { profileDir?: string | undefined } = {},
): Promise<{ url: string; child: ChildProcess }> {
  const nodeArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, join(HERE, script), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before listening`));
    child.once('exit', onExit);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('LISTENING ')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolveUrl(line.slice('LISTENING '.length).trim());
    });
  });
  return { url, child };
}

/** Closes the child's stdin (its signal to stop) and waits for it; SIGKILL after 10 s. */
export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Kills every child still running (also on exit and on Ctrl-C / SIGTERM). */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
