import { type Kysely, sql } from 'kysely';
import type { Database, StoreDb } from './schema.ts';
import type { StoreDialect } from './types.ts';

/**
 * Runs `fn` in a transaction: the caller's, when `db` is already one (a repository used through
 * `store.transaction`), otherwise a new one. Kysely refuses nested `transaction()` calls, and a
 * repository must not care which way it was reached.
 */
export function inTransaction<T>(db: StoreDb, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}

/**
 * Takes a named lock until the end of the current transaction, so that a check and the write it
 * guards (a port range overlap, a hierarchy cycle) cannot interleave with another node's. On
 * PostgreSQL a transaction-scoped advisory lock keyed by schema and name; on SQLite nothing: every
 * write transaction already holds the database's write lock from `BEGIN IMMEDIATE`.
 */
export async function lockForWrite(trx: StoreDb, dialect: StoreDialect, name: string): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ${`.${name}`}))`.execute(trx);
}
