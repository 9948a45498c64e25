import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Makes Node's built-in `node:sqlite` look like the better-sqlite3 subset that Kysely's
 * `SqliteDialect` drives. node:sqlite needs no native build, which matters because the pinned
 * Node 24 and the Node that runs npm differ in ABI.
 */

/** Statements are cached by SQL text: Kysely prepares on every query, and preparing dominates small ones. */
const STATEMENT_CACHE_SIZE = 256;

/** A `DatabaseSync` behind Kysely's `SqliteDatabase` interface. */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, NodeSqliteStatement>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The wrapped database, for direct use (PRAGMA checks in tests, backups). */
  get raw(): DatabaseSync {
    return this.#db;
  }

  prepare(sql: string): SqliteStatement {
    const cached = this.#statements.get(sql);
    if (cached) {
      // Re-insert so the Map's insertion order doubles as least-recently-used order.
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const statement = new NodeSqliteStatement(this.#db, sql);
    this.#statements.set(sql, statement);
    if (this.#statements.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    return statement;
  }

  close(): void {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }
}

class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #db: DatabaseSync;
  readonly #sql: string;
  readonly #stmt: StatementSync;

  constructor(db: DatabaseSync, sql: string) {
    this.#db = db;
    this.#sql = sql;
    this.#stmt = db.prepare(sql);
    // better-sqlite3's `reader`: the statement yields rows (SELECT, PRAGMA, ... RETURNING).
    this.reader = this.#stmt.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#stmt.all(...toInputValues(parameters)).map(toPlainRow);
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    const { changes, lastInsertRowid } = this.#stmt.run(...toInputValues(parameters));
    return { changes, lastInsertRowid };
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    // A fresh statement: the cached one may be re-run by another query while this stream is open.
    const stmt = this.#db.prepare(this.#sql);
    for (const row of stmt.iterate(...toInputValues(parameters))) yield toPlainRow(row);
  }
}

/** node:sqlite rejects booleans (as better-sqlite3 does); SQLite itself stores them as 0/1. */
function toInputValues(parameters: ReadonlyArray<unknown>): SQLInputValue[] {
  return parameters.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : (value as SQLInputValue)));
}

/** node:sqlite returns null-prototype rows; callers (and test matchers) expect plain objects. */
function toPlainRow(row: unknown): unknown {
  return { ...(row as Record<string, unknown>) };
}

/**
 * Opens (creating if missing, with its directory) a SQLite database with the durability settings
 * Ziggie relies on: WAL, `synchronous=FULL` (an acknowledged commit is on disk), foreign keys, and a
 * busy timeout so a second process (the CLI) waits instead of failing.
 */
export function openSqliteDatabase(path: string): NodeSqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
  } catch (error) {
    db.close();
    throw error;
  }
  return new NodeSqliteDatabase(db);
}
