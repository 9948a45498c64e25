import { type Kysely, sql } from 'kysely';
import type { StoreMigration } from './types.ts';

/** Gateway state: run-time upstream servers, tool-definition pins, the tool call log. */
export const gatewayMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    await db.schema
      .createTable('upstream_servers')
      .addColumn('name', 'text', (col) => col.primaryKey())
      .addColumn('spec_json', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();

    await db.schema
      .createTable('tool_pins')
      .addColumn('server', 'text', (col) => col.notNull())
      .addColumn('tool', 'text', (col) => col.notNull())
      .addColumn('approved_hash', 'text', (col) => col.notNull())
      .addColumn('current_hash', 'text', (col) => col.notNull())
      .addColumn('current_definition', 'text', (col) => col.notNull())
      .addColumn('first_seen_at', 'bigint', (col) => col.notNull())
      .addColumn('changed_at', 'bigint')
      .addPrimaryKeyConstraint('tool_pins_pk', ['server', 'tool'])
      .execute();

    await db.schema
      .createTable('tool_calls')
      // SQLite's rowid alias must be spelled exactly `integer primary key`; PostgreSQL gets an identity.
      .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (col) =>
        dialect === 'sqlite'
          ? col.primaryKey().autoIncrement()
          : col.primaryKey().generatedAlwaysAsIdentity(),
      )
      .addColumn('server', 'text', (col) => col.notNull())
      .addColumn('tool', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('ok', 'error', 'failed')`))
      // `double precision`: PostgreSQL's `real` is 4 bytes; in SQLite the name maps to REAL (8 bytes).
      .addColumn('duration_ms', 'double precision', (col) => col.notNull())
      .addColumn('at', 'bigint', (col) => col.notNull())
      .execute();

    await db.schema
      .createIndex('tool_calls_server_tool')
      .on('tool_calls')
      .columns(['server', 'tool'])
      .execute();
  },
};
