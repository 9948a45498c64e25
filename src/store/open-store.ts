import { resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { ZiggieError } from '../core/errors.ts';
import { SqlAgentRepo } from './agent-repo.ts';
import { AuditHeadHint, SqlAuditRepo } from './audit-repo.ts';
import { createAuthStore } from './auth-store.ts';
import { SqlCallLogRepo } from './call-log-repo.ts';
import { SqlMcpTaskRepo } from './mcp-task-repo.ts';
import { migrateToLatest } from './migrations/index.ts';
import {
  createPostgresPool,
  ensureSchema,
  isPostgresUrl,
  type PostgresTarget,
  parsePostgresUrl,
  reasonOf,
  unreachable,
} from './postgres-pool.ts';
import { type RowWriter, sqliteRowWriter } from './row-writer.ts';
import { type Database, processWarningLogger, type StoreDb, type StoreLogger } from './schema.ts';
import { SqlServerRepo } from './server-repo.ts';
import { ZiggieSqliteDialect } from './sqlite-dialect.ts';
import { openSqliteDatabase } from './sqlite-driver.ts';
import { SqlTaskRepo } from './task-repo.ts';
import { SqlToolPinRepo } from './tool-pin-repo.ts';
import type { Store, StoreDialect, StoreRepos } from './types.ts';
import { SqlWorkspaceRepo } from './workspace-repo.ts';

/** Where the store lives; mirrors the `storage` block of ziggie.yaml. */
export interface OpenStoreOptions {
  /**
   * `postgres://…` / `postgresql://…` for PostgreSQL (optionally `?schema=name`); `sqlite:<path>` or
   * `:memory:` for SQLite. Absent: the SQLite file `<dataDir>/ziggie.db`.
   */
  url?: string;
  /** Ziggie's data directory (created when missing). */
  dataDir: string;
  /** PostgreSQL schema for every connection (created when missing); overrides `?schema=`. */
  schema?: string;
  /** Receives warnings (skipped rows, dropped idle connections); defaults to process warnings. */
  logger?: StoreLogger;
}

/** The SQLite file name inside the data directory. */
export const SQLITE_FILE_NAME = 'ziggie.db';

/**
 * Opens the store: picks the dialect from the url, checks the database answers, runs pending
 * migrations and returns the repositories. Failing to reach or migrate the database throws
 * `STORAGE_UNAVAILABLE` (no password in the message).
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const logger = options.logger ?? processWarningLogger;
  const url = options.url?.trim();
  if (url && isPostgresUrl(url)) return openPostgres(parsePostgresUrl(url, options.schema), logger);
  return openSqlite(sqlitePath(url, options.dataDir), logger);
}

/** Resolves the SQLite file from `storage.url` (`sqlite:<path>`, `:memory:`) or the data dir. */
export function sqlitePath(url: string | undefined, dataDir: string): string {
  if (!url) return resolve(dataDir, SQLITE_FILE_NAME);
  if (url === ':memory:' || url === 'sqlite::memory:') return ':memory:';
  if (url.startsWith('sqlite:')) {
    // `sqlite:path`, `sqlite://relative` and `sqlite:///absolute` all name a file.
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=.)/, '');
    if (path) return resolve(path);
  }
  throw new ZiggieError(
    'CONFIG_INVALID',
    'storage.url must start with postgres://, postgresql:// or sqlite:, or be :memory:',
  );
}

async function openSqlite(path: string, logger: StoreLogger): Promise<Store> {
  let database: ReturnType<typeof openSqliteDatabase>;
  try {
    database = openSqliteDatabase(path);
  } catch (error) {
    throw new ZiggieError('STORAGE_UNAVAILABLE', `cannot open SQLite database ${path}: ${reasonOf(error)}`, {
      database: path,
    });
  }
  const db = new Kysely<Database>({ dialect: new ZiggieSqliteDialect({ database }) });
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>, 'sqlite');
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return createStore(
    db,
    'sqlite',
    logger,
    (error) =>
      error instanceof ZiggieError
        ? error
        : new ZiggieError('STORAGE_UNAVAILABLE', `SQLite database ${path} failed: ${reasonOf(error)}`),
    sqliteRowWriter(database),
  );
}

async function openPostgres(target: PostgresTarget, logger: StoreLogger): Promise<Store> {
  const pool = createPostgresPool(target, logger);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    let schema = target.schema;
    try {
      if (schema === undefined) {
        const row = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
        schema = row.rows[0]?.schema ?? 'public';
      } else {
        await ensureSchema(pool, schema);
      }
    } catch (error) {
      throw unreachable(target, error);
    }
    // Kysely's bookkeeping tables go in the same schema as ours; otherwise it may find another
    // schema's `kysely_migration` (introspection looks at every schema) and skip creating its own.
    await migrateToLatest(db as unknown as Kysely<unknown>, 'postgres', schema);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return createStore(db, 'postgres', logger, (error) => unreachable(target, error));
}

/** Every repository over `db`: the store itself or one of its transactions. */
function createRepos(
  db: StoreDb,
  dialect: StoreDialect,
  logger: StoreLogger,
  hint: AuditHeadHint,
  writer?: RowWriter,
): StoreRepos {
  const audit = new SqlAuditRepo(db, dialect, writer, hint);
  return {
    dialect,
    servers: new SqlServerRepo(db, logger),
    toolPins: new SqlToolPinRepo(db),
    callLog: new SqlCallLogRepo(db),
    mcpTasks: new SqlMcpTaskRepo(db),
    auth: createAuthStore(db),
    audit,
    workspaces: new SqlWorkspaceRepo(db, dialect),
    agents: new SqlAgentRepo(db, dialect),
    tasks: new SqlTaskRepo(db, dialect, audit, writer),
  };
}

function createStore(
  db: StoreDb,
  dialect: StoreDialect,
  logger: StoreLogger,
  toUnavailable: (error: unknown) => ZiggieError,
  writer?: RowWriter,
): Store {
  let closed: Promise<void> | undefined;
  // Where this store left the audit chain's head (see audit-repo.ts), across its transactions.
  const hint = new AuditHeadHint();
  return {
    ...createRepos(db, dialect, logger, hint),
    // The row writer only inside a transaction (see row-writer.ts).
    transaction: (fn) =>
      db.transaction().execute((trx) => fn(createRepos(trx, dialect, logger, hint, writer))),
    async ping() {
      try {
        await sql`select 1`.execute(db);
      } catch (error) {
        throw toUnavailable(error);
      }
    },
    close() {
      // Idempotent: shutdown paths (signal handler, test teardown) may both close.
      closed ??= db.destroy();
      return closed;
    },
  };
}
