import { readdirSync, readFileSync } from 'node:fs';

/** Measuring helpers of the gateway benchmark: percentiles, timed loops and per-process CPU time. */

export function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

export interface CpuTime {
  /** User + system (ms). */
  total: number;
  system: number;
}

/** CPU time a process has used, from /proc (Linux); undefined elsewhere. */
export function cpuTimeOf(pid: number): CpuTime | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    const user = (Number(fields[11]) * 1000) / 100;
    const system = (Number(fields[12]) * 1000) / 100;
    return { total: user + system, system };
  } catch {
    return undefined;
  }
}

/** The pids of a process's children (Linux). */
export function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Sums the CPU time of `pids`; undefined when it cannot be read (or there are none). */
export function cpuOf(pids: number[] | undefined): CpuTime | undefined {
  if (!pids?.length) return undefined;
  const sum: CpuTime = { total: 0, system: 0 };
  for (const pid of pids) {
    const time = cpuTimeOf(pid);
    if (time === undefined) return undefined;
    sum.total += time.total;
    sum.system += time.system;
  }
  return sum;
}

/** `fn` run `count` times one after the other; each latency in ms, sorted. */
export async function sequential(count: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await fn(i);
    latencies[i] = performance.now() - started;
  }
  return latencies.sort((a, b) => a - b);
}

/** `fn` run `count` times by `concurrency` workers; calls per second. */
export async function concurrent(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
