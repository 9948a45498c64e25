import { type Kysely, sql } from 'kysely';
import type { StoreMigration } from './types.ts';

/**
 * Identities: users (scrypt password hashes), API keys (only their SHA-256 is kept), dashboard/API
 * sessions (likewise) and the secrets Ziggie generates for itself at first start (the token
 * signing key), shared by every node on the database.
 */
export const authMigration: StoreMigration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('auth_users')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('username', 'text', (col) => col.notNull().unique())
      .addColumn('role', 'text', (col) => col.notNull().check(sql`role in ('admin', 'operator', 'viewer')`))
      // Null: the user signs in with API keys only (the bootstrap admin, until it sets a password).
      .addColumn('password_hash', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .addColumn('disabled_at', 'bigint')
      .execute();

    await db.schema
      .createTable('auth_api_keys')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      // The first characters of the key, shown in listings so a key can be recognised.
      .addColumn('prefix', 'text', (col) => col.notNull())
      .addColumn('key_hash', 'text', (col) => col.notNull().unique())
      // user: acts as `subject` (a user id); agent: as agent `subject` with `tier`; role: as itself with `role`.
      .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('user', 'agent', 'role')`))
      .addColumn('subject', 'text')
      .addColumn('role', 'text')
      .addColumn('tier', 'text')
      .addColumn('created_by', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('auth_api_keys_created_by')
      .on('auth_api_keys')
      .column('created_by')
      .execute();

    await db.schema
      .createTable('auth_sessions')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('token_hash', 'text', (col) => col.notNull().unique())
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('auth_sessions_user_id').on('auth_sessions').column('user_id').execute();
    await db.schema
      .createIndex('auth_sessions_expires_at')
      .on('auth_sessions')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('auth_secrets')
      .addColumn('name', 'text', (col) => col.primaryKey())
      .addColumn('value', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .execute();
  },
};
