import { createClient, type SubmitTaskInput } from '../../sdk/src/index.ts';
import { startAgentsPool } from './agents-pool.ts';
import { cpuBetween, sampleCpu } from './cpu.ts';
import { createAgentKeys, createRemoteAgents, type Rest } from './rest.ts';
import { submitterFor } from './submitter.ts';
import { openTaskCounter, waitForCompleted } from './task-counter.ts';
import { ADMIN_TOKEN, type Storage, type ZiggieProcess } from './ziggie-process.ts';

export interface ThroughputOptions {
  tasks: number;
  warmup: number;
  agents: number;
  concurrency: number;
  batch: number;
  batchesInFlight: number;
  submitConcurrency: number;
  forceSingle: boolean;
  progress: (message: string) => void;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const wallClock = () => performance.timeOrigin + performance.now();
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * End to end: `agents` remote no-op agents (the agents process, `concurrency` tasks each), `tasks`
 * tasks named round-robin to them, from the first submit until the last is COMPLETED in the
 * database; after `warmup` tasks run the same way, unmeasured.
 */
export async function measureThroughput(
  ziggie: ZiggieProcess,
  storage: Storage,
  rest: Rest,
  options: ThroughputOptions,
) {
  const { tasks, warmup, progress } = options;
  const ids = Array.from({ length: options.agents }, (_, i) => `tp-${i}`);
  progress(`registering ${ids.length} remote agents and their keys`);
  await createRemoteAgents(rest, ids, options.concurrency);
  const keys = await createAgentKeys(rest, ids);

  const pool = startAgentsPool();
  const counter = await openTaskCounter(storage, ziggie.dataDir);
  try {
    const connectMs = await pool.connect(ziggie.url, keys, options.concurrency);
    progress(`${ids.length} agents connected in ${Math.round(connectMs)} ms`);
    const client = createClient({ url: ziggie.url, token: ADMIN_TOKEN });
    const submitter = submitterFor(client, {
      batch: options.batch,
      inFlight: options.batchesInFlight,
      concurrency: options.submitConcurrency,
      forceSingle: options.forceSingle,
    });
    const make = (count: number, offset: number): SubmitTaskInput[] =>
      Array.from({ length: count }, (_, i) => ({
        taskType: 'noop',
        agentId: ids[(offset + i) % ids.length],
        input: { n: offset + i },
      }));

    if (warmup > 0) {
      progress(`warm-up: ${warmup} tasks (${submitter.mode})`);
      await submitter.submit(make(warmup, 0));
      await pool.reached(warmup);
      await waitForCompleted(counter, warmup, { everyMs: 20, timeoutMs: 300_000 });
    }

    const batch = make(tasks, warmup);
    progress(`measuring: ${tasks} tasks`);
    const transactionsBefore = await counter.transactions();
    const cpuBefore = sampleCpu({ server: ziggie.pid, agents: pool.pid });
    const started = wallClock();
    const handlersDone = pool.reached(warmup + tasks);
    handlersDone.catch(() => {}); // Awaited below; a failed submit must not leave it unhandled.
    await submitter.submit(batch);
    const submitted = wallClock();
    const lastHandlerAt = await handlersDone;
    // The handlers have all run: the last results commit within milliseconds.
    const completedAt = await waitForCompleted(counter, warmup + tasks, { everyMs: 2, timeoutMs: 300_000 });
    const cpuAfter = sampleCpu({ server: ziggie.pid, agents: pool.pid });
    const endToEndMs = completedAt - started;

    const stats = await pool.stats();
    // PostgreSQL's statistics reach pg_stat_database once a backend idles for a second.
    if (transactionsBefore) await pause(1500);
    const transactionsAfter = await counter.transactions();
    const byStatus = await counter.byStatus();
    const completed = byStatus.COMPLETED ?? 0;
    return {
      agents: ids.length,
      concurrencyPerAgent: options.concurrency,
      tasks,
      warmupTasks: warmup,
      submitMode: submitter.mode,
      tasksPerSec: Math.round(tasks / (endToEndMs / 1000)),
      endToEndMs: Math.round(endToEndMs),
      submitOnly: {
        ms: Math.round(submitted - started),
        tasksPerSec: Math.round(tasks / ((submitted - started) / 1000)),
      },
      lastHandlerStartedMs: Math.round(lastHandlerAt - started),
      lastCompletedAfterLastHandlerMs: round(completedAt - lastHandlerAt),
      agentsConnectMs: Math.round(connectMs),
      cpu: cpuBetween(cpuBefore, cpuAfter, tasks, endToEndMs),
      ...(transactionsBefore && transactionsAfter
        ? {
            postgresTransactionsPerTask: {
              commits: round((transactionsAfter.commits - transactionsBefore.commits) / tasks, 3),
              rollbacks: round((transactionsAfter.rollbacks - transactionsBefore.rollbacks) / tasks, 3),
            },
          }
        : {}),
      // From the ISO wall-clock times (to find the phase in a CPU profile of the server).
      measuredFrom: new Date(started).toISOString(),
      measuredTo: new Date(completedAt).toISOString(),
      checked: {
        expectedCompleted: warmup + tasks,
        tasksByStatus: byStatus,
        handlerCalls: stats.handled,
        agentErrors: stats.errors,
        submitRequestsRetried: submitter.retried(),
        pass: completed === warmup + tasks && stats.handled === warmup + tasks,
      },
      serverMemory: ziggie.memory(),
      agentsProcessRssMiB: stats.rssMiB,
    };
  } finally {
    await counter.close();
    await pool.close();
  }
}
