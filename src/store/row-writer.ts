import type { SqliteStatement } from 'kysely';
import type { NodeSqliteDatabase } from './sqlite-driver.ts';

/**
 * Many rows into one table, for the hot appends (audit entries, task transitions, new tasks). On
 * SQLite one prepared single-row `INSERT`, run once per row on the store's only connection, costs a
 * few microseconds a row, where building a multi-row statement through the query builder costs
 * tens. Only handed to repositories bound to a transaction: that transaction holds the connection,
 * so the rows are part of it (outside one, a raw write could land in another caller's).
 */
export interface RowWriter {
  insert(table: string, rows: ReadonlyArray<Record<string, unknown>>): void;
}

export function sqliteRowWriter(database: NodeSqliteDatabase): RowWriter {
  const statements = new Map<string, SqliteStatement>();
  return {
    insert(table, rows) {
      const first = rows[0];
      if (!first) return;
      // Table and column names come from the repositories, never from input.
      const columns = Object.keys(first);
      const key = `${table}(${columns.join(',')})`;
      let statement = statements.get(key);
      if (!statement) {
        const names = columns.map((column) => `"${column}"`).join(', ');
        statement = database.prepare(
          `insert into "${table}" (${names}) values (${columns.map(() => '?').join(', ')})`,
        );
        statements.set(key, statement);
      }
      for (const row of rows) statement.run(columns.map((column) => row[column] ?? null));
    },
  };
}
