import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewApiKey } from './auth-types.ts';
import { forEachDialect } from './test-stores.ts';

const at = (ms: number) => new Date(ms);

describe('auth store', () => {
  forEachDialect(({ store, database }) => {
    it('creates users with unique names and updates them', async () => {
      const users = store().auth.users;
      const alice = await users.create({
        id: 'usr_alice',
        username: 'alice',
        role: 'operator',
        passwordHash: 'scrypt$x',
        createdAt: at(1_000),
      });
      expect(alice).toMatchObject({ username: 'alice', role: 'operator', disabledAt: null });
      expect(
        await users.create({
          id: 'usr_other',
          username: 'alice',
          role: 'viewer',
          passwordHash: null,
          createdAt: at(2_000),
        }),
      ).toBeUndefined();
      expect(await users.findByUsername('alice')).toEqual(alice);
      const changed = await users.update('usr_alice', { role: 'viewer', disabledAt: at(5_000) }, at(5_000));
      expect(changed).toMatchObject({ role: 'viewer', passwordHash: 'scrypt$x', disabledAt: at(5_000) });
      expect(changed?.updatedAt).toEqual(at(5_000));
      expect(await users.update('usr_nobody', { role: 'admin' }, at(1))).toBeUndefined();
      expect((await users.list()).map((u) => u.id)).toContain('usr_alice');
    });

    it('finds the oldest enabled admin', async () => {
      const users = store().auth.users;
      expect(await users.firstAdmin()).toBeUndefined();
      await users.create({
        id: 'usr_a2',
        username: 'a2',
        role: 'admin',
        passwordHash: null,
        createdAt: at(20),
      });
      await users.create({
        id: 'usr_a1',
        username: 'a1',
        role: 'admin',
        passwordHash: null,
        createdAt: at(10),
      });
      expect((await users.firstAdmin())?.id).toBe('usr_a1');
      await users.update('usr_a1', { disabledAt: at(30) }, at(30));
      expect((await users.firstAdmin())?.id).toBe('usr_a2');
    });

    it('stores API keys by hash, revokes once and records use', async () => {
      const keys = store().auth.apiKeys;
      const key: NewApiKey = {
        id: 'key_1',
        name: 'ci',
        prefix: 'zgk_abcd1234',
        keyHash: 'f'.repeat(64),
        kind: 'role',
        subject: null,
        role: 'viewer',
        tier: null,
        createdBy: 'user:usr_a2',
        createdAt: at(100),
        expiresAt: at(10_000),
      };
      const created = await keys.create(key);
      expect(created).toMatchObject({
        id: 'key_1',
        kind: 'role',
        role: 'viewer',
        revokedAt: null,
        lastUsedAt: null,
      });
      expect(created).not.toHaveProperty('keyHash');
      expect(await keys.findByHash('f'.repeat(64))).toEqual(created);
      expect(await keys.findByHash('0'.repeat(64))).toBeUndefined();
      await keys.create({
        ...key,
        id: 'key_2',
        keyHash: 'e'.repeat(64),
        kind: 'agent',
        subject: 'agent-7',
        role: null,
        tier: 'L3',
        createdBy: 'user:usr_x',
        createdAt: at(200),
      });
      expect((await keys.list()).map((k) => k.id)).toEqual(['key_2', 'key_1']);
      expect((await keys.list({ createdBy: 'user:usr_x' })).map((k) => k.id)).toEqual(['key_2']);
      await keys.touch('key_1', at(300));
      expect((await keys.get('key_1'))?.lastUsedAt).toEqual(at(300));
      expect(await keys.revoke('key_1', at(400))).toBe(true);
      expect(await keys.revoke('key_1', at(500))).toBe(false);
      expect((await keys.get('key_1'))?.revokedAt).toEqual(at(400));
      await expect(keys.create({ ...key, id: 'key_3' })).rejects.toThrow();
    });

    it('keeps sessions by hash, revokes them one by one or per user, and deletes expired ones', async () => {
      const sessions = store().auth.sessions;
      const make = (id: string, userId: string, expiresAt: number) =>
        sessions.create({ id, userId, tokenHash: randomUUID(), createdAt: at(1), expiresAt: at(expiresAt) });
      const one = await make('ses_1', 'usr_s', 1_000);
      await make('ses_2', 'usr_s', Date.now() + 60_000);
      await make('ses_3', 'usr_t', Date.now() + 60_000);
      expect(one).toMatchObject({ userId: 'usr_s', revokedAt: null, expiresAt: at(1_000) });
      const rows = await database().rawQuery(`select token_hash from auth_sessions where id = 'ses_2'`);
      const hash = String(rows[0]?.token_hash);
      expect((await sessions.findByHash(hash))?.id).toBe('ses_2');
      expect(await sessions.revoke('ses_3', at(5))).toBe(true);
      expect(await sessions.revoke('ses_3', at(6))).toBe(false);
      expect(await sessions.revokeForUser('usr_s', at(7))).toBe(2);
      expect((await sessions.findByHash(hash))?.revokedAt).toEqual(at(7));
      expect(await sessions.deleteExpired(at(2_000))).toBe(1);
      expect(await sessions.findByHash(hash)).toBeDefined();
    });

    it('creates a secret once and returns the first value to every later caller', async () => {
      const secrets = store().auth.secrets;
      const values = await Promise.all([
        secrets.getOrCreate('jwt', () => 'first'),
        secrets.getOrCreate('jwt', () => 'second'),
      ]);
      expect(new Set(values).size).toBe(1);
      expect(await secrets.getOrCreate('jwt', () => 'third')).toBe(values[0]);
    });

    it('refuses a role outside the three', async () => {
      await expect(
        database().rawQuery(
          `insert into auth_users (id, username, role, created_at, updated_at) values ('u', 'u', 'root', 1, 1)`,
        ),
      ).rejects.toThrow();
    });
  });
});
