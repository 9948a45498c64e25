import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZiggieSqliteDialect } from './sqlite-dialect.ts';
import { openSqliteDatabase } from './sqlite-driver.ts';

describe('Ziggie SQLite dialect', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ziggie-dialect-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes the write lock when a transaction begins', async () => {
    const file = join(dir, 'immediate.db');
    const db = new Kysely<unknown>({
      dialect: new ZiggieSqliteDialect({ database: openSqliteDatabase(file) }),
    });
    const other = new DatabaseSync(file, { timeout: 0 });
    try {
      await sql`create table t (x integer)`.execute(db);
      await db.transaction().execute(async (trx) => {
        await sql`select count(*) from t`.execute(trx);
        // Only read so far, yet another writer is already locked out.
        expect(() => other.exec('begin immediate')).toThrow(/locked/);
      });
      other.exec('begin immediate');
      other.exec('rollback');
    } finally {
      other.close();
      await db.destroy();
    }
  });

  it('rolls back schema changes with the transaction', async () => {
    const db = new Kysely<unknown>({
      dialect: new ZiggieSqliteDialect({ database: openSqliteDatabase(join(dir, 'ddl.db')) }),
    });
    try {
      expect(db.getExecutor().adapter.supportsTransactionalDdl).toBe(true);
      await expect(
        db.transaction().execute(async (trx) => {
          await sql`create table half_done (x integer)`.execute(trx);
          throw new Error('crash mid-migration');
        }),
      ).rejects.toThrow('crash mid-migration');
      const tables = await sql<{
        name: string;
      }>`select name from sqlite_master where name = 'half_done'`.execute(db);
      expect(tables.rows).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
