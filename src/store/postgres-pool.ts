import pg from 'pg';
import { ZiggieError } from '../core/errors.ts';
import type { StoreLogger } from './schema.ts';

/** Unquoted PostgreSQL identifiers only: the name goes into `search_path` and must need no quoting. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A parsed `storage.url` for PostgreSQL. */
export interface PostgresTarget {
  /** The url without the Ziggie-only `schema` parameter. */
  readonly connectionString: string;
  /** `host:port/database`, safe to print (no user, no password). */
  readonly description: string;
  /** The schema every connection works in (`search_path`), when one was asked for. */
  readonly schema: string | undefined;
  /** libpq `options` (from the url) plus the `search_path` setting. */
  readonly options: string | undefined;
  readonly password: string;
}

/** True for `postgres://` and `postgresql://` urls. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Reads a PostgreSQL url. `?schema=name` (or `schema`, which wins) selects a schema for every
 * connection, as pg-boss and trigger.dev do to isolate tenants and tests.
 */
export function parsePostgresUrl(url: string, schema?: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the url: it may hold a password.
    throw new ZiggieError('CONFIG_INVALID', 'storage.url is not a valid PostgreSQL url');
  }
  const chosenSchema = schema ?? parsed.searchParams.get('schema') ?? undefined;
  if (chosenSchema !== undefined && !SCHEMA_NAME.test(chosenSchema)) {
    throw new ZiggieError(
      'CONFIG_INVALID',
      `storage schema "${chosenSchema}" is not a lowercase PostgreSQL identifier (letters, digits, "_")`,
    );
  }
  // pg lets url parameters override explicit config, so `options` is merged here and removed from the url.
  const urlOptions = parsed.searchParams.get('options') ?? undefined;
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('options');
  const searchPath = chosenSchema === undefined ? undefined : `-c search_path=${chosenSchema}`;
  const options = [urlOptions, searchPath].filter((part) => part !== undefined).join(' ') || undefined;
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  return {
    connectionString: parsed.toString(),
    description: `${host}:${parsed.port || '5432'}${parsed.pathname}`,
    schema: chosenSchema,
    options,
    password: decodeURIComponent(parsed.password),
  };
}

/** Parses int8 (counts, epoch milliseconds, ids) as numbers, as SQLite returns them. */
const INT8_AS_NUMBER: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8
      ? Number
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** A pool for the target. Per-pool type parsers: no global state of the `pg` module is changed. */
export function createPostgresPool(target: PostgresTarget, logger: StoreLogger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    ...(target.options === undefined ? {} : { options: target.options }),
    types: INT8_AS_NUMBER,
    // Without a timeout an unroutable host hangs start-up until the OS gives up (minutes).
    connectionTimeoutMillis: 10_000,
    max: 10,
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, that ends the process.
  pool.on('error', (error) => {
    logger.warn(
      { database: target.description, reason: reasonOf(error, target.password) },
      'idle PostgreSQL connection failed',
    );
  });
  return pool;
}

/** Creates the target's schema when missing (racing creators are fine). */
export async function ensureSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`create schema if not exists "${schema}"`);
  } catch (error) {
    // Concurrent `create schema if not exists` can still fail with a unique violation.
    const exists = await pool.query('select 1 from pg_namespace where nspname = $1', [schema]);
    if (exists.rowCount === 0) throw error;
  }
}

/** The `STORAGE_UNAVAILABLE` error for a failed connection, with the password scrubbed. */
export function unreachable(target: PostgresTarget, error: unknown): ZiggieError {
  return new ZiggieError(
    'STORAGE_UNAVAILABLE',
    `cannot reach PostgreSQL at ${target.description}: ${reasonOf(error, target.password)}`,
    { database: target.description },
  );
}

/** A one-line reason; node's dual-stack connect reports an AggregateError with an empty message. */
export function reasonOf(error: unknown, password = ''): string {
  let reason: string;
  if (error instanceof AggregateError && error.message === '') {
    reason = error.errors.map((inner) => reasonOf(inner)).join('; ');
  } else if (error instanceof Error) {
    reason = error.message || (error as NodeJS.ErrnoException).code || error.name;
  } else {
    reason = String(error);
  }
  return password === '' ? reason : reason.replaceAll(password, '***');
}
