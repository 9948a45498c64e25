import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { type OpenStoreOptions, openStore, SQLITE_FILE_NAME } from './open-store.ts';
import type { Store, StoreDialect } from './types.ts';

/**
 * Test support (not part of the public API): one isolated database per test file on each dialect —
 * a SQLite file in a fresh temp directory, or a fresh PostgreSQL schema (as pg-boss and
 * trigger.dev isolate their tests) that is dropped afterwards.
 */

/** The PostgreSQL the tests use; override with ZIGGIE_TEST_POSTGRES_URL. */
export const TEST_POSTGRES_URL =
  process.env.ZIGGIE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** An isolated, empty database that can be opened any number of times until dropped. */
export interface TestDatabase {
  readonly dialect: StoreDialect;
  /** What `openStore` is given; reuse it to open the same database again. */
  readonly options: OpenStoreOptions;
  /** Opens a store on this database (migrating it on first open). */
  open(overrides?: Partial<OpenStoreOptions>): Promise<Store>;
  /** Runs SQL on its own connection, beside any open store (to plant or inspect raw rows). */
  rawQuery(text: string): Promise<Record<string, unknown>[]>;
  /** Removes the temp directory or drops the schema; close the stores first. */
  drop(): Promise<void>;
}

/** A way to make a fresh `TestDatabase` for one dialect. */
export interface TestDialect {
  readonly dialect: StoreDialect;
  create(): Promise<TestDatabase>;
}

async function createSqliteDatabase(): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ziggie-store-'));
  const options: OpenStoreOptions = { dataDir };
  return {
    dialect: 'sqlite',
    options,
    open: (overrides) => openStore({ ...options, ...overrides }),
    async rawQuery(text) {
      const db = new DatabaseSync(join(dataDir, SQLITE_FILE_NAME), { timeout: 5000 });
      try {
        return db
          .prepare(text)
          .all()
          .map((row) => ({ ...row }));
      } finally {
        db.close();
      }
    },
    drop: () => rm(dataDir, { recursive: true, force: true }),
  };
}

async function createPostgresDatabase(): Promise<TestDatabase> {
  const schema = `ziggie_test_${randomBytes(6).toString('hex')}`;
  const options: OpenStoreOptions = { url: TEST_POSTGRES_URL, schema, dataDir: tmpdir() };
  return {
    dialect: 'postgres',
    options,
    open: (overrides) => openStore({ ...options, ...overrides }),
    rawQuery: (text) => withClient(`set search_path to "${schema}"; ${text}`),
    async drop() {
      await withClient(`drop schema if exists "${schema}" cascade`);
    },
  };
}

async function withClient(text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    const result = await client.query(text);
    // A multi-statement text yields one result per statement; the last one is the answer.
    const last = Array.isArray(result) ? result.at(-1) : result;
    return last?.rows ?? [];
  } finally {
    await client.end();
  }
}

/** Both dialects, for `describe.each(TEST_DIALECTS)('$dialect', …)`. */
export const TEST_DIALECTS: readonly TestDialect[] = [
  { dialect: 'sqlite', create: createSqliteDatabase },
  { dialect: 'postgres', create: createPostgresDatabase },
];

/** What `forEachDialect` hands to the suite body; the getters work inside tests and hooks. */
export interface DialectSuite {
  readonly dialect: StoreDialect;
  /** The suite's store (opened in `beforeAll`, closed in `afterAll`). */
  store(): Store;
  /** The suite's database, to open more stores on it. */
  database(): TestDatabase;
}

/**
 * Runs `body` once per dialect inside `describe(<dialect>)`, with a fresh database and an open
 * store shared by the tests of that block. Tests in one block share data, so each uses its own
 * server names.
 */
export function forEachDialect(body: (suite: DialectSuite) => void): void {
  describe.each(TEST_DIALECTS)('$dialect', ({ dialect, create }) => {
    let database: TestDatabase | undefined;
    let store: Store | undefined;
    beforeAll(async () => {
      database = await create();
      store = await database.open();
    });
    afterAll(async () => {
      await store?.close();
      await database?.drop();
    });
    body({
      dialect,
      store: () => store ?? fail('the store is opened in beforeAll'),
      database: () => database ?? fail('the database is created in beforeAll'),
    });
  });
}

function fail(message: string): never {
  throw new Error(message);
}
