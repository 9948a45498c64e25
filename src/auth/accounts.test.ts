import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../audit/audit-log.ts';
import { SYSTEM_ACTOR } from '../core/access.ts';
import { rolePermissions } from '../core/policy.ts';
import { forEachDialect } from '../store/test-stores.ts';
import type { AuditRepo, Store, StoreTx } from '../store/types.ts';
import { Accounts, type AccountsStore } from './accounts.ts';
import type { Identity } from './identity.ts';

const system: Identity = {
  actor: SYSTEM_ACTOR,
  permissions: rolePermissions('admin'),
  role: 'admin',
  method: 'local',
};

/** The store, with the audit log of every transaction failing to append: the change must roll back too. */
function auditFails(store: Store): AccountsStore {
  const audit = new Proxy(store.audit, {
    get: (target, key) =>
      key === 'append' ? () => Promise.reject(new Error('audit log down')) : Reflect.get(target, key),
  }) as AuditRepo;
  return {
    auth: store.auth,
    transaction: (fn) =>
      store.transaction((tx) =>
        fn(
          new Proxy(tx, {
            get: (target, key) => (key === 'audit' ? audit : Reflect.get(target, key)),
          }) as StoreTx,
        ),
      ),
  };
}

const entries = (store: Store) => store.audit.scan({}, 0, 1000);

/** Account changes commit in one transaction with their audit entry, or not at all. */
describe('accounts audit their changes in the same transaction', () => {
  forEachDialect(({ store }) => {
    it('a failed audit append leaves no user, key, revocation or disable behind', async () => {
      const broken = new Accounts(auditFails(store()));
      await expect(broken.bootstrap()).rejects.toThrow('audit log down');
      expect(await store().auth.users.list()).toEqual([]);
      expect(await store().auth.apiKeys.list()).toEqual([]);

      await expect(broken.createUser(system, { username: 'ghost', role: 'viewer' })).rejects.toThrow(
        'audit log down',
      );
      expect(await store().auth.users.findByUsername('ghost')).toBeUndefined();

      const accounts = new Accounts(store());
      const alice = await accounts.createUser(system, { username: 'alice', role: 'operator' });
      const owner: Identity = { ...system, actor: { type: 'user', id: alice.id } };
      await expect(broken.createKey(owner, { name: 'lost' })).rejects.toThrow('audit log down');
      expect(await store().auth.apiKeys.list()).toEqual([]);

      const { record } = await accounts.createKey(owner, { name: 'kept' });
      await expect(broken.revokeKey(system, record.id)).rejects.toThrow('audit log down');
      expect((await store().auth.apiKeys.get(record.id))?.revokedAt).toBeNull();

      await store().auth.sessions.create({
        id: 'ses_alice',
        userId: alice.id,
        tokenHash: 'h'.repeat(64),
        createdAt: new Date(),
        expiresAt: new Date(Date.now() + 3_600_000),
      });
      await expect(broken.updateUser(system, alice.id, { disabled: true })).rejects.toThrow('audit log down');
      expect((await store().auth.users.get(alice.id))?.disabledAt).toBeNull();
      expect((await store().auth.sessions.findByHash('h'.repeat(64)))?.revokedAt).toBeNull();

      // Only the two successful changes were recorded.
      expect((await entries(store())).map((e) => e.action)).toEqual(['USER_CREATED', 'KEY_CREATED']);
    });

    it('a failed change records nothing', async () => {
      const accounts = new Accounts(store());
      const before = (await entries(store())).length;
      await expect(accounts.createUser(system, { username: 'alice', role: 'viewer' })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      await expect(accounts.revokeKey(system, 'key_nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await entries(store())).toHaveLength(before);
    });

    it('each change leaves exactly one chained entry, without secrets, that verify accepts', async () => {
      const accounts = new Accounts(store());
      const before = (await entries(store())).length;
      const bob = await accounts.createUser(
        system,
        { username: 'bob', role: 'viewer', password: 'a-long-enough-password' },
        '203.0.113.7',
      );
      const created = (await entries(store())).slice(before);
      expect(created).toHaveLength(1);
      expect(JSON.parse(created[0]?.metadataJson ?? '')).toEqual({ username: 'bob', role: 'viewer' });
      expect(created[0]).toMatchObject({
        actor: SYSTEM_ACTOR,
        action: 'USER_CREATED',
        entityType: 'user',
        entityId: bob.id,
        ip: '203.0.113.7',
        outcome: 'success',
      });

      await accounts.updateUser(system, bob.id, { password: 'another-long-password', role: 'operator' });
      const { key, record } = await accounts.createKey(system, { name: 'ci', role: 'operator' });
      await accounts.revokeKey(system, record.id);
      await accounts.revokeKey(system, record.id); // revoked already: no second entry
      const after = (await entries(store())).slice(before);
      expect(after.map((e) => [e.action, e.entityId])).toEqual([
        ['USER_CREATED', bob.id],
        ['USER_UPDATED', bob.id],
        ['KEY_CREATED', record.id],
        ['KEY_REVOKED', record.id],
      ]);
      expect(JSON.parse(after[1]?.metadataJson ?? '')).toEqual({
        role: 'operator',
        password: true,
        sessionsEnded: 0,
      });
      const stored = JSON.stringify(after);
      const user = await store().auth.users.get(bob.id);
      expect(stored).not.toContain(key);
      expect(stored).not.toContain(user?.passwordHash ?? 'scrypt$');
      expect(stored).not.toContain('scrypt$');

      const log = new AuditLog(store(), { retentionDays: 0 }, pino({ level: 'silent' }));
      expect(await log.verify()).toMatchObject({ ok: true });
    });
  });
});
