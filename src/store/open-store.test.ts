import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isZiggieError } from '../core/errors.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { openStore, SQLITE_FILE_NAME, sqlitePath } from './open-store.ts';
import { TEST_DIALECTS, TEST_POSTGRES_URL, type TestDatabase } from './test-stores.ts';

describe.each(TEST_DIALECTS)('openStore on $dialect', ({ dialect, create }) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await create();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('migrates once and opens again without re-running migrations', async () => {
    const first = await database.open();
    expect(first.dialect).toBe(dialect);
    await first.servers.upsert({
      name: 'kept',
      transport: 'sse',
      url: 'http://127.0.0.1:9/sse',
      headers: {},
      enabled: true,
      connect: 'lazy',
      protocol: 'auto',
    });
    await first.close();

    const second = await database.open();
    expect((await second.servers.list()).map((spec) => spec.name)).toEqual(['kept']);
    await second.close();

    const applied = await database.rawQuery('select name from kysely_migration order by name');
    expect(applied.map((row) => row.name)).toEqual(MIGRATIONS.map(([name]) => name));
  });

  it('refuses a database migrated by a newer Ziggie', async () => {
    const newer = await create();
    try {
      await (await newer.open()).close();
      await newer.rawQuery(
        "insert into kysely_migration (name, timestamp) values ('9999-future', '2030-01-01T00:00:00.000Z')",
      );
      await expect(newer.open()).rejects.toMatchObject({
        code: 'STORAGE_UNAVAILABLE',
        message: expect.stringContaining('9999-future'),
      });
    } finally {
      await newer.drop();
    }
  });

  it('pings, closes idempotently and rejects with STORAGE_UNAVAILABLE after close', async () => {
    const store = await database.open();
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });
});

describe('openStore on PostgreSQL', () => {
  it('fails with STORAGE_UNAVAILABLE naming host, port and database but not the password', async () => {
    const error = await openStore({ url: 'postgres://u:secretpw@127.0.0.1:1/x', dataDir: tmpdir() }).catch(
      (caught: unknown) => caught,
    );
    expect(isZiggieError(error)).toBe(true);
    if (!isZiggieError(error)) return;
    expect(error.code).toBe('STORAGE_UNAVAILABLE');
    expect(error.message).toMatch(/^cannot reach PostgreSQL at 127\.0\.0\.1:1\/x: .*ECONNREFUSED/);
    expect(JSON.stringify(error.toJSON())).not.toContain('secretpw');
    expect(error.message).not.toContain('secretpw');
  });

  it('takes the schema from ?schema= and keeps every table in it', async () => {
    const schema = `ziggie_test_${randomBytes(6).toString('hex')}`;
    const store = await openStore({ url: `${TEST_POSTGRES_URL}?schema=${schema}`, dataDir: tmpdir() });
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    try {
      await store.toolPins.observe('s', 't', 'h', 'd');
      const tables = await client.query<{ table_name: string }>(
        'select table_name from information_schema.tables where table_schema = $1 order by table_name',
        [schema],
      );
      expect(tables.rows.map((row) => row.table_name)).toEqual([
        'agent_skills',
        'agents',
        'audit_head',
        'audit_log',
        'auth_api_keys',
        'auth_secrets',
        'auth_sessions',
        'auth_users',
        'kysely_migration',
        'kysely_migration_lock',
        'mcp_tasks',
        'task_logs',
        'task_transitions',
        'tasks',
        'tool_calls',
        'tool_pins',
        'upstream_servers',
        'workspace_ports',
        'workspaces',
      ]);
    } finally {
      await store.close();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  });

  it('migrates into the current schema when the url sets search_path itself', async () => {
    const schema = `ziggie_test_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    await client.query(`create schema "${schema}"`);
    try {
      const options = encodeURIComponent(`-c search_path=${schema}`);
      const store = await openStore({ url: `${TEST_POSTGRES_URL}?options=${options}`, dataDir: tmpdir() });
      await store.callLog.append([{ server: 's', tool: 't', status: 'ok', durationMs: 1, at: new Date() }]);
      await store.close();
      const rows = await client.query(`select count(*)::int as n from "${schema}".tool_calls`);
      expect(rows.rows[0]?.n).toBe(1);
    } finally {
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  });

  it('rejects a schema name that would need quoting', async () => {
    await expect(
      openStore({ url: TEST_POSTGRES_URL, schema: 'Bad-Name', dataDir: tmpdir() }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});

describe('openStore on SQLite', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ziggie-open-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates <dataDir>/ziggie.db, with missing directories, in WAL mode', async () => {
    const nested = join(dataDir, 'a', 'b');
    const store = await openStore({ dataDir: nested });
    await store.close();
    const file = join(nested, SQLITE_FILE_NAME);
    expect(existsSync(file)).toBe(true);
    // journal_mode=WAL is stored in the file, so a second connection sees it.
    const db = new DatabaseSync(file);
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    db.close();
  });

  it('opens an in-memory database for :memory:', async () => {
    const store = await openStore({ url: ':memory:', dataDir: join(dataDir, 'unused') });
    await store.toolPins.observe('m', 't', 'h', 'd');
    expect(await store.toolPins.list()).toHaveLength(1);
    await store.close();
    expect(existsSync(join(dataDir, 'unused'))).toBe(false);
  });

  it('reports an unopenable file as STORAGE_UNAVAILABLE', async () => {
    // A directory where the database file should be.
    await expect(openStore({ url: `sqlite:${dataDir}`, dataDir })).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message: expect.stringContaining(dataDir),
    });
  });

  it('resolves storage urls to files', () => {
    expect(sqlitePath(undefined, 'data')).toBe(resolve('data', SQLITE_FILE_NAME));
    expect(sqlitePath('sqlite:var/z.db', 'data')).toBe(resolve('var/z.db'));
    expect(sqlitePath('sqlite:///srv/z.db', 'data')).toBe('/srv/z.db');
    expect(sqlitePath('sqlite::memory:', 'data')).toBe(':memory:');
    expect(() => sqlitePath('mysql://h/db', 'data')).toThrow(/postgres:\/\//);
  });
});
