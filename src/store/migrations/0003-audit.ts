import { type Kysely, sql } from 'kysely';
import { GENESIS_HASH } from '../../core/audit.ts';
import type { StoreMigration } from './types.ts';

/**
 * The hash-chained audit log and its head. Entry ids are assigned from the head row (not by the
 * database), so they are gap-free positions in the chain: a gap means a deleted row.
 */
export const auditMigration: StoreMigration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'bigint', (col) => col.primaryKey())
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('actor_type', 'text', (col) => col.notNull())
      .addColumn('actor_id', 'text', (col) => col.notNull())
      .addColumn('action', 'text', (col) => col.notNull())
      .addColumn('entity_type', 'text', (col) => col.notNull())
      .addColumn('entity_id', 'text')
      .addColumn('metadata_json', 'text', (col) => col.notNull())
      .addColumn('ip', 'text')
      .addColumn('duration_ms', 'double precision')
      .addColumn('outcome', 'text', (col) => col.notNull())
      .addColumn('prev_hash', 'text', (col) => col.notNull())
      .addColumn('hash', 'text', (col) => col.notNull())
      .execute();

    // Listings are newest first by id, filtered by one of these; `id` last lets the index serve the order.
    await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'id']).execute();
    await db.schema.createIndex('audit_log_action').on('audit_log').columns(['action', 'id']).execute();
    await db.schema
      .createIndex('audit_log_actor')
      .on('audit_log')
      .columns(['actor_type', 'actor_id', 'id'])
      .execute();
    await db.schema
      .createIndex('audit_log_entity')
      .on('audit_log')
      .columns(['entity_type', 'entity_id', 'id'])
      .execute();

    await db.schema
      .createTable('audit_head')
      .addColumn('id', 'integer', (col) => col.primaryKey().check(sql`id = 1`))
      .addColumn('last_id', 'bigint', (col) => col.notNull())
      .addColumn('last_hash', 'text', (col) => col.notNull())
      // The first entry kept and the hash it points back to (moved forward by retention).
      .addColumn('anchor_id', 'bigint', (col) => col.notNull())
      .addColumn('anchor_hash', 'text', (col) => col.notNull())
      .execute();
    await sql`insert into audit_head (id, last_id, last_hash, anchor_id, anchor_hash)
      values (1, 0, ${GENESIS_HASH}, 1, ${GENESIS_HASH})`.execute(db);
  },
};
