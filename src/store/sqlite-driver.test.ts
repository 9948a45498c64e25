import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from './sqlite-driver.ts';

describe('node:sqlite adapter', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ziggie-sqlite-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens with WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const db = openSqliteDatabase(join(dir, 'new', 'durable.db'));
    try {
      const pragma = (name: string) => db.prepare(`PRAGMA ${name}`).all([])[0];
      expect(pragma('journal_mode')).toEqual({ journal_mode: 'wal' });
      expect(pragma('synchronous')).toEqual({ synchronous: 2 });
      expect(pragma('foreign_keys')).toEqual({ foreign_keys: 1 });
      expect(pragma('busy_timeout')).toEqual({ timeout: 5000 });
    } finally {
      db.close();
    }
  });

  it('behaves like the better-sqlite3 subset Kysely drives', () => {
    const db = openSqliteDatabase(':memory:');
    try {
      const create = db.prepare('create table t (id integer primary key, flag integer, name text)');
      expect(create.reader).toBe(false);
      create.run([]);

      const insert = db.prepare('insert into t (flag, name) values (?, ?)');
      expect(insert.reader).toBe(false);
      expect(insert.run([true, 'a'])).toEqual({ changes: 1, lastInsertRowid: 1 });
      expect(insert.run([false, 'b'])).toEqual({ changes: 1, lastInsertRowid: 2 });

      const returning = db.prepare('insert into t (flag, name) values (?, ?) returning id');
      expect(returning.reader).toBe(true);
      expect(returning.all([1, 'c'])).toEqual([{ id: 3 }]);

      const select = db.prepare('select flag, name from t order by id');
      expect(select.reader).toBe(true);
      const rows = select.all([]);
      expect(rows).toEqual([
        { flag: 1, name: 'a' },
        { flag: 0, name: 'b' },
        { flag: 1, name: 'c' },
      ]);
      expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);

      // An open stream is not disturbed by the same SQL running again meanwhile.
      const names: unknown[] = [];
      for (const row of select.iterate([])) {
        names.push((row as { name: string }).name);
        expect(db.prepare('select flag, name from t order by id').all([])).toHaveLength(3);
      }
      expect(names).toEqual(['a', 'b', 'c']);
    } finally {
      db.close();
    }
  });

  it('closes once and tolerates a second close', () => {
    const db = openSqliteDatabase(':memory:');
    db.close();
    expect(() => db.close()).not.toThrow();
    expect(db.raw.isOpen).toBe(false);
  });
});
