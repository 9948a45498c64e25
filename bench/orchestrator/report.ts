import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import type { measureDispatch } from './dispatch.ts';
import type { measureMemory } from './memory.ts';
import type { measureThroughput } from './throughput.ts';
import type { Dialect } from './ziggie-process.ts';

/** The parts of the orchestrator benchmark's report besides the figures: budgets, machine, code. */

const BUDGET_TASKS_PER_SEC: Record<Dialect, number> = { sqlite: 5000, postgres: 2000 };
const BUDGET_DISPATCH_P99_MS = 10;

const round2 = (n: number) => Math.round(n * 100) / 100;

/** What one dialect measured (a part missing when skipped or when it failed: `error`). */
export interface DialectResult {
  throughput?: Awaited<ReturnType<typeof measureThroughput>>;
  dispatch?: Awaited<ReturnType<typeof measureDispatch>>;
  memory?: Awaited<ReturnType<typeof measureMemory>>;
  error?: string;
}

/** Each budget with what was measured and whether it holds. */
export function budgets(dialects: readonly Dialect[], results: Partial<Record<Dialect, DialectResult>>) {
  const rows: Array<{ budget: string; measured: number; pass: boolean }> = [];
  for (const dialect of dialects) {
    const { throughput, dispatch, memory } = results[dialect] ?? {};
    if (throughput) {
      rows.push({
        budget: `${dialect}: end to end ≥ ${BUDGET_TASKS_PER_SEC[dialect]} tasks/s (every task COMPLETED once)`,
        measured: throughput.tasksPerSec,
        pass: throughput.tasksPerSec >= BUDGET_TASKS_PER_SEC[dialect] && throughput.checked.pass,
      });
    }
    if (dispatch) {
      rows.push({
        budget: `${dialect}: dispatch p99 < ${BUDGET_DISPATCH_P99_MS} ms`,
        measured: dispatch.p99Ms,
        pass: dispatch.p99Ms < BUDGET_DISPATCH_P99_MS,
      });
    }
    if (memory) {
      rows.push({
        budget: `${dialect}: ${memory.registered} registered + ${memory.connected} connected agents < ${memory.budgetMiB} MiB RSS`,
        measured: memory.rssMiB,
        pass: memory.pass,
      });
    }
  }
  const failed = dialects.filter((d) => results[d]?.error !== undefined);
  return { rows, pass: failed.length === 0 && rows.every((row) => row.pass) };
}

/** The commit measured, and the src/ and sdk/ files changed since (part of what was measured). */
export function codeVersion() {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' });
    // `XY path` per line; src/ and sdk/ changes not committed yet are part of what is measured.
    const modified = git('status', '--porcelain', 'src', 'sdk').split('\n').filter(Boolean);
    return {
      commit: git('rev-parse', '--short', 'HEAD').trim(),
      modifiedFiles: modified.map((line) => line.slice(3)),
    };
  } catch {
    return undefined;
  }
}

/** The machine, as the other benchmarks report it, and the load when the run starts. */
export function machineInfo(): Record<string, unknown> {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    totalMemGiB: round2(totalmem() / 2 ** 30),
    loadAvg1m: round2(loadavg()[0] ?? 0),
    loadAvg5m: round2(loadavg()[1] ?? 0),
  };
}
