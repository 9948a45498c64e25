/**
 * The orchestrator benchmark (`npm run bench:orchestrator`), against DESIGN.md's budgets (issue 4
 * §10), on SQLite (a temp dir) and PostgreSQL (a database created for the run and dropped), each
 * with a real `ziggie start` (bin/ziggie.js, its own process):
 *
 * - end to end: K remote no-op agents (SDK `connectAgent`, in a second process, agents-process.ts)
 *   and N tasks named round-robin to them, from the first submit until all N are COMPLETED in the
 *   database; also the submits alone. Budget: ≥ 5,000 tasks/s on SQLite, ≥ 2,000/s on PostgreSQL.
 * - dispatch: one task at a time to an idle agent connected from this process, request sent →
 *   handler started. Budget: p99 < 10 ms.
 * - memory: a fresh server; 10,000 agents imported and 2,000 connected; its VmRSS. Budget < 512 MiB.
 * - baseline, same run: pg-boss on the same PostgreSQL (pgboss-baseline.ts), same N, no-op handler.
 *
 * Progress goes to stderr, one JSON document to stdout; every child process is killed, every temp
 * dir removed and every database dropped, also on failure or Ctrl-C.
 *
 * Options: --tasks N (20000), --warmup N (2000), --agents K (100), --concurrency C per agent (16),
 * --batch N (500) and --batches-in-flight N (4) for `submitMany`, --single (POST /api/tasks one by
 * one, --submit-concurrency 64), --dispatch-samples N (500), --registered N (10000), --connected N
 * (2000), --pgboss-workers N (4), --pgboss-batch N (500), --pgboss-dispatch-samples N (100),
 * --only sqlite|postgres, --skip dispatch,memory,pgboss, --prof-dir DIR (CPU profile of the
 * end-to-end server). PostgreSQL: $ZIGGIE_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { measureDispatch } from './dispatch.ts';
import { measureMemory } from './memory.ts';
import { measurePgBoss } from './pgboss-baseline.ts';
import { cleanUp } from './processes.ts';
import { budgets, codeVersion, type DialectResult, machineInfo } from './report.ts';
import { restClient } from './rest.ts';
import { measureThroughput } from './throughput.ts';
import { ADMIN_TOKEN, type Dialect, freshStorage, postgresSettings, startZiggie } from './ziggie-process.ts';

const PG_URL = process.env.ZIGGIE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const { values: opts } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '2000' },
    agents: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    batch: { type: 'string', default: '500' },
    'batches-in-flight': { type: 'string', default: '4' },
    'submit-concurrency': { type: 'string', default: '64' },
    single: { type: 'boolean', default: false },
    'dispatch-samples': { type: 'string', default: '500' },
    registered: { type: 'string', default: '10000' },
    connected: { type: 'string', default: '2000' },
    'pgboss-workers': { type: 'string', default: '4' },
    'pgboss-batch': { type: 'string', default: '500' },
    'pgboss-dispatch-samples': { type: 'string', default: '100' },
    only: { type: 'string' },
    skip: { type: 'string', default: '' },
    'prof-dir': { type: 'string' },
  },
});
const num = (name: keyof typeof opts) => Number(opts[name]);
const skip = new Set(String(opts.skip).split(',').filter(Boolean));
const PROF_DIR = opts['prof-dir'] ? resolve(opts['prof-dir']) : undefined;
const dialects = (['sqlite', 'postgres'] as const).filter((d) => !opts.only || opts.only === d);
if (dialects.length === 0) throw new Error(`--only ${opts.only}: expected sqlite or postgres`);

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** End to end and dispatch on one server, then memory on a fresh one; into `result` as they come. */
async function runDialect(dialect: Dialect, result: DialectResult): Promise<void> {
  const storage = await freshStorage(dialect, PG_URL);
  try {
    const ziggie = await startZiggie(storage, { name: 'throughput', profileDir: PROF_DIR });
    try {
      progress(`${dialect}: Ziggie pid ${ziggie.pid} on ${ziggie.url}`);
      const rest = restClient(ziggie.url, ADMIN_TOKEN);
      result.throughput = await measureThroughput(ziggie, storage, rest, {
        tasks: num('tasks'),
        warmup: num('warmup'),
        agents: num('agents'),
        concurrency: num('concurrency'),
        batch: num('batch'),
        batchesInFlight: num('batches-in-flight'),
        submitConcurrency: num('submit-concurrency'),
        forceSingle: opts.single === true,
        progress: (m) => progress(`${dialect}: ${m}`),
      });
      if (!skip.has('dispatch')) {
        result.dispatch = await measureDispatch(ziggie, rest, {
          samples: num('dispatch-samples'),
          warmup: 50,
          progress: (m) => progress(`${dialect}: ${m}`),
        });
      }
    } finally {
      await ziggie.stop();
    }
  } finally {
    await storage.drop();
  }
  if (!skip.has('memory')) {
    const fresh = await freshStorage(dialect, PG_URL);
    try {
      const ziggie = await startZiggie(fresh, { name: 'memory' });
      try {
        result.memory = await measureMemory(ziggie, restClient(ziggie.url, ADMIN_TOKEN), {
          registered: num('registered'),
          connected: num('connected'),
          progress: (m) => progress(`${dialect}: ${m}`),
        });
      } finally {
        await ziggie.stop();
      }
    } finally {
      await fresh.drop();
    }
  }
}

async function runPgBoss() {
  const storage = await freshStorage('postgres', PG_URL);
  try {
    progress(
      `pg-boss: ${num('tasks')} jobs, ${num('pgboss-workers')} workers × batches of ${num('pgboss-batch')}`,
    );
    const figures = await measurePgBoss({
      url: storage.url!,
      schema: 'pgboss',
      tasks: num('tasks'),
      workers: num('pgboss-workers'),
      batchSize: num('pgboss-batch'),
      dispatchSamples: num('pgboss-dispatch-samples'),
      percentile: (sorted, p) =>
        sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0,
    });
    return {
      tasks: num('tasks'),
      workers: num('pgboss-workers'),
      batchSize: num('pgboss-batch'),
      tasksPerSec: Math.round(figures.tasksPerSecond),
      dispatchSamples: num('pgboss-dispatch-samples'),
      dispatchP50Ms: round2(figures.dispatchMs.p50),
      dispatchP99Ms: round2(figures.dispatchMs.p99),
      pollingIntervalMs: figures.pollingIntervalMs,
    };
  } finally {
    await storage.drop();
  }
}

const machine = machineInfo();
const report: Record<string, unknown> = {
  benchmark: 'orchestrator',
  date: new Date().toISOString(),
  machine,
  code: codeVersion(),
  layout:
    'on the same cores: the Ziggie server (bin/ziggie.js start, its own process), the agents process ' +
    '(the SDK agents of the end-to-end and memory phases) and this process (submits, the dispatch ' +
    'agent, counting, pg-boss and its workers); PostgreSQL on the same host',
  settings: Object.fromEntries(Object.entries(opts).filter(([k]) => k !== 'prof-dir')),
};

try {
  if (PROF_DIR) mkdirSync(PROF_DIR, { recursive: true });
  const results: Partial<Record<Dialect, DialectResult>> = {};
  // A failing part is reported as such and the others still run: the figures measured are kept.
  const attempt = async <T>(name: string, part: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await part();
    } catch (error) {
      progress(`${name} failed: ${(error as Error).stack ?? error}`);
      const message = (error as Error).message;
      const partial = report[name] as { error?: string } | undefined;
      if (partial) partial.error = message;
      else report[name] = { error: message };
      process.exitCode = 1;
      return undefined;
    }
  };
  if (dialects.includes('postgres'))
    machine.postgres = await attempt('postgresSettings', () => postgresSettings(PG_URL));
  for (const dialect of dialects) {
    progress(`--- ${dialect}`);
    const result: DialectResult = {};
    results[dialect] = result;
    report[dialect] = result;
    await attempt(dialect, () => runDialect(dialect, result));
  }
  if (dialects.includes('postgres') && !skip.has('pgboss')) {
    progress('--- pg-boss baseline');
    const pgboss = await attempt('pgboss', runPgBoss);
    const ziggie = results.postgres?.throughput?.tasksPerSec ?? Number.NaN;
    if (pgboss)
      report.pgboss = { ...pgboss, ziggieTasksPerSecOverPgBoss: round2(ziggie / pgboss.tasksPerSec) };
  }
  report.budgets = budgets(dialects, results);
  machine.loadAvg1mAtEnd = round2(loadavg()[0] ?? 0);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} catch (error) {
  process.stderr.write(`[bench] failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
// Keep-alive sockets of fetch would hold the process open a while.
process.exit();
