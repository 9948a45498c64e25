import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * What the orchestrator benchmark must undo whatever happens: its child processes (killed with
 * SIGKILL on exit, Ctrl-C or SIGTERM), its temp dirs (removed) and its PostgreSQL databases
 * (dropped; after a signal too, once the children are gone).
 */

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const cleanups = new Set<() => Promise<void>>();

/** Tracks a child until it exits. */
export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A temp dir removed at the end (or on exit). */
export function trackDir(dir: string): string {
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** An asynchronous cleanup (dropping a database) run by `cleanUp`, also after a signal; returns its remover. */
export function onCleanup(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** Kills every child, then runs the pending cleanups (each once; failures reported, not thrown). */
export async function cleanUp(): Promise<void> {
  const exited = [...children].map((child) => new Promise((done) => child.once('exit', done)));
  killAll();
  await Promise.race([Promise.all(exited), new Promise((done) => setTimeout(done, 5000))]);
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    await cleanup().catch((error: Error) =>
      process.stderr.write(`[bench] cleanup failed: ${error.message}\n`),
    );
  }
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`[bench] ${signal}: stopping\n`);
    void cleanUp().finally(() => process.exit(130));
  });
}
