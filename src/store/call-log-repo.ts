import { sql } from 'kysely';
import type { StoreDb } from './schema.ts';
import { inTransaction } from './sql-transaction.ts';
import type { CallLogEntry, CallLogRepo, ToolStats } from './types.ts';

/**
 * Rows per INSERT statement. Keeps every statement far below the bound-parameter limits
 * (32,766 on SQLite, 65,535 on PostgreSQL) whatever the batch size.
 */
const ROWS_PER_INSERT = 500;

/** The tool call log: appended in batches, summarised per tool. */
export class SqlCallLogRepo implements CallLogRepo {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  async append(entries: readonly CallLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map((entry) => ({
      server: entry.server,
      tool: entry.tool,
      status: entry.status,
      duration_ms: entry.durationMs,
      at: entry.at.getTime(),
    }));
    // One transaction for the whole batch: one commit (one fsync on SQLite), all or nothing.
    await inTransaction(this.#db, async (trx) => {
      for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
        await trx
          .insertInto('tool_calls')
          .values(rows.slice(start, start + ROWS_PER_INSERT))
          .execute();
      }
    });
  }

  async stats(server?: string): Promise<ToolStats[]> {
    let query = this.#db
      .selectFrom('tool_calls')
      .select((eb) => [
        'server',
        'tool',
        eb.fn.countAll().as('calls'),
        eb.fn.sum<number>(sql`case when status = 'ok' then 0 else 1 end`).as('errors'),
        eb.fn.avg<number>('duration_ms').as('avg_ms'),
        eb.fn.max('duration_ms').as('max_ms'),
        eb.fn.max('at').as('last_at'),
      ])
      .groupBy(['server', 'tool'])
      .orderBy('server')
      .orderBy('tool');
    if (server !== undefined) query = query.where('server', '=', server);
    const rows = await query.execute();
    // Number(): aggregate types differ by dialect and driver (bigint, numeric strings, doubles).
    return rows.map((row) => ({
      server: row.server,
      tool: row.tool,
      calls: Number(row.calls),
      errors: Number(row.errors),
      avgMs: Number(row.avg_ms),
      maxMs: Number(row.max_ms),
      lastAt: row.last_at === null ? null : new Date(Number(row.last_at)),
    }));
  }
}
