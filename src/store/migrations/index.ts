import type { Kysely } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import { ZiggieError } from '../../core/errors.ts';
import type { StoreDialect } from '../types.ts';
import { gatewayMigration } from './0001-gateway.ts';
import { mcpTasksMigration } from './0002-mcp-tasks.ts';
import { auditMigration } from './0003-audit.ts';
import { registryMigration } from './0004-registry.ts';
import { authMigration } from './0005-auth.ts';
import { tasksMigration } from './0006-tasks.ts';
import { taskRuntimeMigration } from './0007-task-runtime.ts';
import { taskComplexityMigration } from './0008-task-complexity.ts';
import { taskTierMigration } from './0009-task-tier.ts';
import type { StoreMigration } from './types.ts';

/**
 * Every migration, in order. Append-only: a released migration is never edited or removed (a
 * database that ran it would disagree with the code); schema changes are new entries.
 */
export const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: StoreMigration]> = [
  ['0001-gateway', gatewayMigration],
  ['0002-mcp-tasks', mcpTasksMigration],
  ['0003-audit', auditMigration],
  ['0004-registry', registryMigration],
  ['0005-auth', authMigration],
  ['0006-tasks', tasksMigration],
  ['0007-task-runtime', taskRuntimeMigration],
  ['0008-task-complexity', taskComplexityMigration],
  ['0009-task-tier', taskTierMigration],
];

/** A static provider: migrations are imported modules, so nothing depends on the files on disk. */
export function migrationProvider(dialect: StoreDialect): MigrationProvider {
  return {
    async getMigrations() {
      const migrations: Record<string, Migration> = {};
      for (const [name, migration] of MIGRATIONS) {
        migrations[name] = { up: (db) => migration.up(db, dialect) };
      }
      return migrations;
    },
  };
}

/**
 * Brings the database up to the latest migration. Kysely takes a lock (an advisory lock on
 * PostgreSQL), so several Ziggie nodes starting at once run each migration exactly once.
 * `tableSchema` pins Kysely's bookkeeping tables to the schema the store uses on PostgreSQL.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: StoreDialect,
  tableSchema?: string,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    // Numbers were reserved per area (0003-0004 audit and registry, 0005+ auth) and landed out of
    // order; the migrations touch separate tables, so a database may run them in either order.
    allowUnorderedMigrations: true,
    ...(tableSchema === undefined ? {} : { migrationTableSchema: tableSchema }),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely checks for its table by reading the catalog of every schema; a schema (or table) another
  // process drops at that moment (PostgreSQL 3F000 or 42P01, naming that other schema) fails the
  // check, not our migration. Nothing was migrated yet: ask again.
  for (let retry = 0; retry < 3 && isOtherSchemaDropped(error, tableSchema); retry++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error')?.migrationName;
  const reason = error instanceof Error ? error.message : String(error);
  throw new ZiggieError(
    'STORAGE_UNAVAILABLE',
    failed ? `database migration ${failed} failed: ${reason}` : `cannot migrate the database: ${reason}`,
    failed ? { migration: failed } : undefined,
    { cause: error },
  );
}

function isOtherSchemaDropped(error: unknown, ours: string | undefined): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  // 3F000: a schema vanished; 42P01: a table did ("<schema>.<table>"). Ours never vanish meanwhile.
  const text = String(message);
  return (
    (code === '3F000' || code === '42P01') &&
    ours !== undefined &&
    !text.includes(`"${ours}"`) &&
    !text.includes(`"${ours}.`)
  );
}
