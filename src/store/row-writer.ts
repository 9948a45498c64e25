import type { SQLInputValue, StatementSync } from 'node:sqlite';
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
  /** The rows a statement answers, each as an array of its columns' values in the statement's order. */
  values(sql: string, parameters: readonly SQLInputValue[]): unknown[][];
}

/** Prepared statements kept per SQL text (the hot paths use a few dozen). */
const MAX_STATEMENTS = 256;

export function sqliteRowWriter(database: NodeSqliteDatabase): RowWriter {
  const inserts = new Map<string, string>();
  const statements = new Map<string, StatementSync>();
  /** Statements whose rows come as arrays (node:sqlite builds an object per row at twice the cost). */
  const arrays = new Map<string, StatementSync>();
  const prepared = (sql: string, asArrays = false): StatementSync => {
    const cache = asArrays ? arrays : statements;
    let statement = cache.get(sql);
    if (!statement) {
      if (cache.size >= MAX_STATEMENTS) cache.clear();
      statement = database.raw.prepare(sql);
      if (asArrays) statement.setReturnArrays(true);
      cache.set(sql, statement);
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
      let sql = inserts.get(key);
      if (sql === undefined) {
        const names = columns.map((column) => `"${column}"`).join(', ');
        sql = `insert into "${table}" (${names}) values (${columns.map(() => '?').join(', ')})`;
        inserts.set(key, sql);
      }
      const statement = prepared(sql);
      for (const row of rows) statement.run(...columns.map((column) => toInput(row[column])));
    },
    run(sql, parameters) {
      return Number(prepared(sql).run(...parameters).changes);
    },
    values(sql, parameters) {
      return prepared(sql, true).all(...parameters) as unknown as unknown[][];
    },
  };
}

/** node:sqlite takes no booleans or undefined; SQLite stores booleans as 0/1. */
function toInput(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value as SQLInputValue;
}
