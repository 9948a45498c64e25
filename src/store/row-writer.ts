import type { SQLInputValue, StatementSync } from 'node:sqlite';
import type { SqliteStatement } from 'kysely';
import type { NodeSqliteDatabase } from './sqlite-driver.ts';

/**
 * Raw statements for the hot paths (audit entries, task transitions, new tasks, claims, results).
 * On SQLite one prepared statement, run on the store's only connection, costs a few microseconds a
 * row, where building a statement through the query builder (and copying each row it answers)
 * costs tens. Only handed to repositories bound to a transaction: that transaction holds the
 * connection, so the statements are part of it (outside one, a raw write could land in another
 * caller's).
 *
 * SQL text comes from the repositories, never from input; values are always parameters.
 */
export interface RowWriter {
  /** Many rows into one table, one prepared single-row `INSERT` each. */
  insert(table: string, rows: ReadonlyArray<Record<string, unknown>>): void;
  /** Runs a statement; answers how many rows it changed. */
  run(sql: string, parameters: readonly SQLInputValue[]): number;
  /** The rows a statement answers (null-prototype objects: read them, do not hand them out). */
  all(sql: string, parameters: readonly SQLInputValue[]): Array<Record<string, unknown>>;
}

/** Prepared statements kept per SQL text (the hot paths use a few dozen). */
const MAX_STATEMENTS = 256;

export function sqliteRowWriter(database: NodeSqliteDatabase): RowWriter {
  const inserts = new Map<string, SqliteStatement>();
  const statements = new Map<string, StatementSync>();
  const prepared = (sql: string): StatementSync => {
    let statement = statements.get(sql);
    if (!statement) {
      if (statements.size >= MAX_STATEMENTS) statements.clear();
      statement = database.raw.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
  return {
    insert(table, rows) {
      const first = rows[0];
      if (!first) return;
      // Table and column names come from the repositories, never from input.
      const columns = Object.keys(first);
      const key = `${table}(${columns.join(',')})`;
      let statement = inserts.get(key);
      if (!statement) {
        const names = columns.map((column) => `"${column}"`).join(', ');
        statement = database.prepare(
          `insert into "${table}" (${names}) values (${columns.map(() => '?').join(', ')})`,
        );
        inserts.set(key, statement);
      }
      for (const row of rows) statement.run(columns.map((column) => row[column] ?? null));
    },
    run(sql, parameters) {
      return Number(prepared(sql).run(...parameters).changes);
    },
    all(sql, parameters) {
      return prepared(sql).all(...parameters) as Array<Record<string, unknown>>;
    },
  };
}
