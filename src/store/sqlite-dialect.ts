import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';

/**
 * Kysely's SQLite dialect with two corrections for how Ziggie uses SQLite.
 *
 * - Transactions start with `BEGIN IMMEDIATE`: they all write, and taking the write lock up front
 *   makes a second process wait for `busy_timeout` instead of failing with SQLITE_BUSY when a
 *   deferred transaction tries to upgrade its read lock.
 * - Migrations run in a transaction: SQLite does support transactional DDL (Kysely's adapter says it
 *   does not), so a crash mid-migration leaves the schema as it was, and `BEGIN IMMEDIATE` makes
 *   processes that start together take turns.
 */
export class ZiggieSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
