import PgBoss from 'pg-boss';

/**
 * The baseline of the orchestrator benchmark: pg-boss (the standard PostgreSQL job queue for Node)
 * on the same PostgreSQL, in a schema of its own, with the same no-op handler. Jobs are inserted in
 * batches (as the Ziggie run submits them) and worked by `workers` workers taking `batchSize` jobs
 * per fetch, completing each; the clock runs from the first insert to the last completion.
 *
 * A pg-boss 10 worker waits its polling interval after every fetch, even a full one (at least
 * 0.5 s): a worker whose batch came back full is woken at once (`notifyWorker`), as a busy queue
 * needs, so that the throughput is not the polling interval's. An idle worker polls: a job sent to
 * an idle queue waits for the next poll, so dispatch samples are sent at random moments.
 */
export interface PgBossFigures {
  tasksPerSecond: number;
  /** Created → handler started, for jobs inserted one at a time while the workers idle. */
  dispatchMs: { p50: number; p99: number };
  /** The minimum polling interval pg-boss allows, at which the workers poll. */
  pollingIntervalMs: number;
}

const POLLING_INTERVAL_SECONDS = 0.5;

export async function measurePgBoss(options: {
  url: string;
  schema: string;
  tasks: number;
  workers: number;
  batchSize: number;
  dispatchSamples: number;
  percentile: (sorted: number[], p: number) => number;
}): Promise<PgBossFigures> {
  const boss = new PgBoss({
    connectionString: options.url,
    schema: options.schema,
    max: 10,
    supervise: false,
    schedule: false,
  });
  boss.on('error', (error) => process.stderr.write(`[bench] pg-boss: ${error.message}\n`));
  await boss.start();
  try {
    const queue = 'bench';
    await boss.createQueue(queue);
    let done = 0;
    let allDone: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    const started = new Map<string, number>();
    for (let i = 0; i < options.workers; i++) {
      let workerId: string | undefined;
      const work = { batchSize: options.batchSize, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS };
      workerId = await boss.work(queue, work, async (jobs) => {
        const now = performance.now();
        for (const job of jobs) if (!started.has(job.id)) started.set(job.id, now);
        done += jobs.length;
        if (done >= options.tasks) allDone();
        // A full batch: more are likely waiting, fetch again without the polling pause.
        if (jobs.length === options.batchSize && workerId !== undefined) boss.notifyWorker(workerId);
      });
    }
    const begin = performance.now();
    const BATCH = 1000;
    for (let i = 0; i < options.tasks; i += BATCH) {
      const count = Math.min(BATCH, options.tasks - i);
      await boss.insert(Array.from({ length: count }, (_, j) => ({ name: queue, data: { n: i + j } })));
    }
    await finished;
    const tasksPerSecond = options.tasks / ((performance.now() - begin) / 1000);

    // Dispatch latency: one job at a time, the workers idle (pg-boss finds it at its next poll),
    // each sent at a random point of the polling cycle (right after the last one it would always
    // wait a whole interval).
    const latencies: number[] = [];
    for (let i = 0; i < options.dispatchSamples; i++) {
      await new Promise((r) => setTimeout(r, Math.random() * POLLING_INTERVAL_SECONDS * 1000));
      const sent = performance.now();
      const id = await boss.send(queue, { probe: i });
      while (id !== null && !started.has(id)) await new Promise((r) => setTimeout(r, 1));
      latencies.push(performance.now() - sent);
    }
    latencies.sort((a, b) => a - b);
    return {
      tasksPerSecond,
      dispatchMs: { p50: options.percentile(latencies, 50), p99: options.percentile(latencies, 99) },
      pollingIntervalMs: POLLING_INTERVAL_SECONDS * 1000,
    };
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
  }
}
