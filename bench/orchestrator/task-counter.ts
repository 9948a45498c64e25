import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import type { Storage } from './ziggie-process.ts';

/**
 * Counts COMPLETED tasks straight from Ziggie's database (read only: a SQLite reader in WAL mode,
 * one PostgreSQL connection), to stop the end-to-end clock the moment the last one commits without
 * paging through the REST API while the server works.
 */
export interface TaskCounter {
  completed(): Promise<number>;
  /** Tasks by status. */
  byStatus(): Promise<Record<string, number>>;
  /** PostgreSQL: the database's commits and rollbacks so far (`pg_stat_database`, flushed ~1 s late). */
  transactions(): Promise<{ commits: number; rollbacks: number } | undefined>;
  close(): Promise<void>;
}

const COUNT = `select count(*) as n from tasks where status = 'COMPLETED'`;
const BY_STATUS = 'select status, count(*) as n from tasks group by status';
const toCounts = (rows: Array<{ status: string; n: number | string }>) =>
  Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));

export async function openTaskCounter(storage: Storage, dataDir: string): Promise<TaskCounter> {
  if (storage.url === undefined) {
    const db = new DatabaseSync(join(dataDir, 'ziggie.db'), { readOnly: true });
    const statement = db.prepare(COUNT);
    return {
      completed: async () => Number((statement.get() as { n: number }).n),
      byStatus: async () => toCounts(db.prepare(BY_STATUS).all() as Array<{ status: string; n: number }>),
      transactions: async () => undefined,
      close: async () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: storage.url });
  await client.connect();
  return {
    completed: async () => Number((await client.query<{ n: string }>(COUNT)).rows[0]?.n ?? 0),
    byStatus: async () => toCounts((await client.query<{ status: string; n: string }>(BY_STATUS)).rows),
    transactions: async () => {
      const { rows } = await client.query<{ xact_commit: string; xact_rollback: string }>(
        'select xact_commit, xact_rollback from pg_stat_database where datname = current_database()',
      );
      return { commits: Number(rows[0]?.xact_commit), rollbacks: Number(rows[0]?.xact_rollback) };
    },
    close: () => client.end(),
  };
}

/** Polls `counter` every `everyMs` until it reaches `target`; resolves with the wall-clock time it did. */
export async function waitForCompleted(
  counter: TaskCounter,
  target: number,
  options: { everyMs: number; timeoutMs: number },
): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const n = await counter.completed();
    if (n >= target) return performance.timeOrigin + performance.now();
    if (Date.now() > deadline)
      throw new Error(`only ${n} of ${target} tasks COMPLETED after ${options.timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.everyMs));
  }
}
