import { readdirSync, readFileSync } from 'node:fs';
import { cpuTimeOf } from '../gateway/measure.ts';

/**
 * CPU time (user + system, ms, from /proc: Linux) of the processes sharing the machine's cores
 * during a phase: the Ziggie server, the agents process, this benchmark, and PostgreSQL's processes
 * (every process named `postgres`: the database runs on the same host).
 */
export interface CpuSample {
  server: number;
  agents: number;
  bench: number;
  /** Per PostgreSQL process (they come and go with connections). */
  postgres: Map<number, number>;
}

export function sampleCpu(pids: { server: number; agents: number }): CpuSample {
  const own = process.cpuUsage();
  return {
    server: cpuTimeOf(pids.server)?.total ?? Number.NaN,
    agents: cpuTimeOf(pids.agents)?.total ?? Number.NaN,
    bench: (own.user + own.system) / 1000,
    postgres: postgresCpu(),
  };
}

function postgresCpu(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const time = cpuTimeOf(Number(entry));
      if (time) byPid.set(Number(entry), time.total);
    } catch {
      // Gone meanwhile.
    }
  }
  return byPid;
}

/** What PostgreSQL's processes used between the samples (a process that ended meanwhile is missed). */
function postgresBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, total] of after) ms += total - (before.get(pid) ?? 0);
  return ms;
}

/**
 * Per process: CPU µs per task, and the share of one core it used over the wall time
 * (`cores`: 1.0 is one core busy all along; the machine has two).
 */
export function cpuBetween(before: CpuSample, after: CpuSample, tasks: number, wallMs: number) {
  const per = (ms: number) => ({
    usPerTask: Math.round((ms * 1000) / tasks),
    cores: Math.round((ms / wallMs) * 100) / 100,
  });
  return {
    server: per(after.server - before.server),
    agents: per(after.agents - before.agents),
    bench: per(after.bench - before.bench),
    postgres: per(postgresBetween(before.postgres, after.postgres)),
  };
}
