import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * Process-tree helpers for stdio upstreams: a server started through a wrapper (`npx`, `uvx`, a
 * shell script) lives in a grandchild, so killing only the direct child would leave it running.
 * Everything here is synchronous so that it also works inside a process `exit` handler.
 */

const HAS_PROC = existsSync('/proc/self/stat');

/** Parent pid of every process, read from /proc on Linux and from `ps` elsewhere. */
function parentTable(): Map<number, number> {
  const parents = new Map<number, number>();
  try {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // The command name (field 2) may contain spaces and parentheses: fields restart after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parents.set(pid, Number(fields[1]));
      } catch {
        // The process ended while we were reading.
      }
    }
    return parents;
  } catch {
    const output = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
    for (const line of output.split('\n')) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (pid !== undefined && ppid !== undefined && Number.isInteger(pid)) parents.set(pid, ppid);
    }
    return parents;
  }
}

/** `pid` and all of its descendants (children first found breadth-first); `[]` when it is gone. */
export function processTree(pid: number): number[] {
  if (!isAlive(pid)) return [];
  let parents: Map<number, number>;
  try {
    parents = parentTable();
  } catch {
    return [pid];
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/**
 * Whether a process with this pid is running (a permission error still means it exists). A zombie
 * counts as gone: a grandchild orphaned by our kill waits as one until init reaps it, which some
 * container inits never do.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Without /proc (macOS), signal 0 is all we can know.
  if (!HAS_PROC) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  }
}

/** SIGTERM to every pid, then SIGKILL to the ones still alive after `graceMs`. */
export async function terminate(pids: readonly number[], graceMs: number): Promise<void> {
  if (pids.length === 0) return;
  signal(pids, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  signal(pids.filter(isAlive), 'SIGKILL');
}

const liveChildren = new Set<number>();
let exitHookInstalled = false;

/**
 * Remembers a spawned upstream child so that it is SIGKILLed (with its descendants) when this
 * process exits without having stopped it. One `exit` handler serves every connection.
 */
export function trackChild(pid: number): void {
  liveChildren.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) signal(processTree(child), 'SIGKILL');
  });
}

/** Forgets a child that was stopped or that exited on its own. */
export function untrackChild(pid: number): void {
  liveChildren.delete(pid);
}
