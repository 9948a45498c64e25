import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolePermissions, type Tier } from '../core/policy.ts';
import { openStore } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import type { AuthAuditEvent } from './audit-sink.ts';
import { AuthService } from './auth-service.ts';
import { userIdentity } from './authenticator.ts';
import type { Identity } from './identity.ts';
import type { AuthSettings } from './settings.ts';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

const settings = (overrides: Partial<AuthSettings> = {}): AuthSettings => ({
  mode: 'required',
  tokens: { secret: SECRET, issuer: 'ziggie', audience: 'ziggie', ttlMs: 900_000, maxTtlMs: 86_400_000 },
  sessions: { ttlMs: 3_600_000, cookieName: 'ziggie_session' },
  rateLimits: { enabled: true, requestsPerMinute: 600, toolCallsPerMinute: 600, loginAttemptsPerMinute: 100 },
  ...overrides,
});

let dir: string;
let store: Store;
let auth: AuthService;
let admin: Identity;
const events: AuthAuditEvent[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ziggie-auth-'));
  store = await openStore({ dataDir: dir });
  auth = await AuthService.create({
    store,
    settings: settings(),
    audit: { record: (e) => void events.push(e) },
  });
  const boot = await auth.bootstrap();
  admin = await auth.authenticate({ bearer: boot.key }).then((i) => i ?? expect.fail('bootstrap key works'));
});

afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const secretKey = new TextEncoder().encode(SECRET);

async function refused(token: string, audiences?: string[]): Promise<string> {
  const error = await auth.authenticate({ bearer: token }, audiences).then(
    () => expect.fail('the token was accepted'),
    (e: unknown) => e as { code: string; message: string },
  );
  expect(error.code).toBe('AUTH_INVALID');
  return error.message;
}

describe('JWT access tokens', () => {
  it('issues a token that authenticates as the same identity with the asked permissions', async () => {
    const issued = await auth.issueToken(admin, { permissions: ['mcp.tools.list'], expiresIn: 60 });
    const identity = await auth.authenticate({ bearer: issued.token });
    expect(identity).toMatchObject({ actor: admin.actor, role: 'admin', method: 'token' });
    expect([...(identity?.permissions ?? [])]).toEqual(['mcp.tools.list']);
    expect(issued.expiresAt - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(60);
  });

  it('refuses alg "none"', async () => {
    const token = new UnsecuredJWT({ actor: 'user', role: 'admin', permissions: ['users.manage'] })
      .setIssuer('ziggie')
      .setAudience('ziggie')
      .setSubject(admin.actor.id)
      .setIssuedAt()
      .setExpirationTime('5m')
      .encode();
    expect(await refused(token)).toMatch(/algorithm|not a valid token/);
  });

  const sign = (payload: Record<string, unknown>, alg = 'HS256') =>
    new SignJWT({ actor: 'user', role: 'admin', permissions: ['users.manage'], ...payload })
      .setProtectedHeader({ alg })
      .setIssuer('ziggie')
      .setAudience('ziggie')
      .setSubject(admin.actor.id)
      .setIssuedAt()
      .setExpirationTime('5m');

  it('refuses a token signed with another key', async () => {
    const token = await sign({}).sign(new TextEncoder().encode('another-secret-of-sufficient-length-xx'));
    expect(await refused(token)).toMatch(/bad signature/);
  });

  it('refuses another algorithm, even with the right key', async () => {
    expect(await refused(await sign({}, 'HS512').sign(secretKey))).toMatch(/algorithm not allowed/);
  });

  it('refuses an expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 120;
    const token = await sign({})
      .setIssuedAt(past - 60)
      .setExpirationTime(past)
      .sign(secretKey);
    expect(await refused(token)).toMatch(/expired/);
  });

  it('refuses a token for another audience, and another issuer', async () => {
    expect(
      await refused(await sign({}).setAudience('https://elsewhere.example/mcp').sign(secretKey)),
    ).toMatch(/"aud"/);
    expect(await refused(await sign({}).setIssuer('mallory').sign(secretKey))).toMatch(/"iss"/);
  });

  it('accepts an MCP endpoint URL as audience only where that endpoint is asked', async () => {
    const url = 'http://127.0.0.1:4000/mcp';
    const { token } = await auth.issueToken(admin, { audience: url });
    expect((await auth.authenticate({ bearer: token }, ['ziggie', url]))?.actor).toEqual(admin.actor);
    await refused(token);
  });

  it('refuses tampered claims (payload changed, signature kept)', async () => {
    const { token } = await auth.issueToken(admin, { permissions: ['mcp.tools.list'] });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    claims.permissions = ['mcp.tools.list', 'mcp.admin'];
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    expect(await refused(forged)).toMatch(/bad signature/);
  });

  it('refuses a token without exp, and never grants more than the role holds', async () => {
    const noExp = await new SignJWT({ actor: 'user', role: 'viewer', permissions: ['mcp.tools.list'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('ziggie')
      .setAudience('ziggie')
      .setSubject('usr_x')
      .setIssuedAt()
      .sign(secretKey);
    await refused(noExp);
    // Correctly signed (as if the key leaked) but claiming more than a viewer holds: trimmed.
    const inflated = await sign({ role: 'viewer', permissions: ['mcp.tools.list', 'users.manage'] }).sign(
      secretKey,
    );
    expect([...((await auth.authenticate({ bearer: inflated }))?.permissions ?? [])]).toEqual([
      'mcp.tools.list',
    ]);
  });

  it('will not issue what the identity lacks, nor beyond the maximum lifetime', async () => {
    const viewer: Identity = { ...userIdentity({ id: 'usr_v', role: 'viewer' }) };
    await expect(auth.issueToken(viewer, { permissions: ['mcp.tools.execute'] })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('"mcp.tools.execute"'),
    });
    await expect(auth.issueToken(admin, { expiresIn: 10 ** 9 })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});

describe('API keys', () => {
  it('are shown once, stored hashed, and stop working the moment they are revoked', async () => {
    const { key, record } = await auth.accounts.createKey(admin, { name: 'ci', role: 'operator' });
    expect(key).toMatch(/^zgk_[0-9a-f]{8}_[\w-]{43}$/);
    expect(record.prefix).toBe(key.slice(0, 12));
    const rows = await store.auth.apiKeys.list();
    expect(JSON.stringify(rows)).not.toContain(key);
    const identity = await auth.authenticate({ bearer: key });
    expect(identity).toMatchObject({
      actor: { type: 'key', id: record.id },
      role: 'operator',
      method: 'api-key',
    });
    await auth.accounts.revokeKey(admin, record.id);
    expect(await refused(key)).toMatch(/revoked/);
    // Recorded in the revocation's transaction, not through the sink.
    const revoked = await store.audit.scan({ actions: ['KEY_REVOKED'], entityId: record.id }, 0, 10);
    expect(revoked).toHaveLength(1);
  });

  it('record when they were last used', async () => {
    const { key, record } = await auth.accounts.createKey(admin, { name: 'used' });
    expect(record.lastUsedAt).toBeNull();
    await auth.authenticate({ bearer: key });
    await expect.poll(async () => (await store.auth.apiKeys.get(record.id))?.lastUsedAt).not.toBeNull();
  });

  it('expire', async () => {
    const { key, record } = await auth.accounts.createKey(admin, { name: 'short', expiresIn: 1 });
    // Move its expiry into the past (a second connection, as another node would) instead of waiting.
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(join(dir, 'ziggie.db'));
    db.prepare('update auth_api_keys set expires_at = ? where id = ?').run(Date.now() - 1, record.id);
    db.close();
    expect(await refused(key)).toMatch(/expired/);
  });

  it('act as an agent of a tier, and never grant more than their creator holds', async () => {
    const { key } = await auth.accounts.createKey(admin, {
      name: 'agent',
      agentId: 'art-director',
      tier: 'L1',
    });
    const agent = await auth.authenticate({ bearer: key });
    expect(agent).toMatchObject({ actor: { type: 'agent', id: 'art-director' }, tier: 'L1' });
    expect(agent?.permissions.has('DELEGATE_TO_L2')).toBe(true);
    const operator: Identity = { ...userIdentity({ id: 'usr_op', role: 'operator' }) };
    await expect(auth.accounts.createKey(operator, { name: 'up', role: 'admin' })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('"users.manage"'),
    });
    await expect(
      auth.accounts.createKey(operator, { name: 'L0', agentId: 'z', tier: 'L0' }),
    ).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    const { record } = await auth.accounts.createKey(operator, { name: 'mine', role: 'viewer' });
    expect((await auth.accounts.listKeys(operator)).map((k) => k.id)).toEqual([record.id]);
    await expect(auth.accounts.createKey(admin, { name: 'x', agentId: 'a' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it("follow the agent directory: the agent's current tier, refused once it is disabled or removed", async () => {
    const agents = new Map<string, { tier: Tier; disabled: boolean }>([
      ['scout', { tier: 'L2', disabled: false }],
    ]);
    const withRegistry = await AuthService.create({
      store,
      settings: settings(),
      audit: { record: () => {} },
      agents: { find: async (id) => agents.get(id) },
    });
    const { key } = await withRegistry.accounts.createKey(admin, { name: 'scout', agentId: 'scout' });
    const { token } = await withRegistry.issueToken(
      (await withRegistry.authenticate({ bearer: key })) ?? expect.fail('the key works'),
      {},
    );
    agents.set('scout', { tier: 'L3', disabled: false });
    expect(await withRegistry.authenticate({ bearer: key })).toMatchObject({ tier: 'L3' });
    expect((await withRegistry.authenticate({ bearer: token }))?.permissions.has('DELEGATE_TO_L3')).toBe(
      false,
    );
    agents.delete('scout');
    const gone = (credential: string) =>
      withRegistry.authenticate({ bearer: credential }).then(
        () => expect.fail('accepted'),
        (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
      );
    expect(await gone(key)).toMatch(
      /^AUTH_INVALID: API key zgk_\w+ refused: agent "scout" is not registered$/,
    );
    expect(await gone(token)).toBe('AUTH_INVALID: access token refused: agent "scout" is not registered');
  });

  it('refuses an unknown key without saying more', async () => {
    expect(await refused('zgk_nothing_here')).toBe('API key refused: unknown key');
  });
});

describe('users and sessions', () => {
  it('sign in with a password, and signing out ends the session on the server', async () => {
    const user = await auth.accounts.createUser(admin, {
      username: 'olga',
      role: 'operator',
      password: 'correct horse battery',
    });
    expect(user.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
    await expect(
      auth.login({ username: 'olga', password: 'wrong password!!' }, '127.0.0.1'),
    ).rejects.toMatchObject({
      code: 'AUTH_INVALID',
    });
    await expect(
      auth.login({ username: 'nobody', password: 'wrong password!!' }, '127.0.0.1'),
    ).rejects.toMatchObject({
      code: 'AUTH_INVALID',
    });
    const { cookie, session } = await auth.login(
      { username: 'olga', password: 'correct horse battery' },
      '127.0.0.1',
    );
    const identity = await auth.authenticate({ session: cookie });
    expect(identity).toMatchObject({
      actor: { type: 'user', id: user.id },
      method: 'session',
      credentialId: session.id,
    });
    expect(await auth.logout(identity, null)).toBe(true);
    await expect(auth.authenticate({ session: cookie })).rejects.toMatchObject({ code: 'AUTH_INVALID' });
    // Sign-in and sign-out are in the audit log, committed with the session change.
    const logged = (await store.audit.scan({}, 0, 10_000)).filter((e) => e.entityId === session.id);
    expect(logged.map((e) => [e.action, e.actor.id, e.ip])).toEqual([
      ['AUTH_LOGIN', user.id, '127.0.0.1'],
      ['AUTH_LOGOUT', user.id, null],
    ]);
    // A second sign-out of the ended session changes nothing and records nothing.
    expect(await auth.logout(identity, null)).toBe(false);
    expect((await store.audit.scan({}, 0, 10_000)).filter((e) => e.entityId === session.id)).toHaveLength(2);
  });

  it('end every session and key of a disabled user at once', async () => {
    const user = await auth.accounts.createUser(admin, {
      username: 'dora',
      role: 'viewer',
      password: 'a long enough password',
    });
    const { cookie } = await auth.login({ username: 'dora', password: 'a long enough password' }, null);
    const self = { ...userIdentity(user) };
    const { key } = await auth.accounts.createKey(self, { name: 'dora' });
    expect((await auth.authenticate({ bearer: key }))?.actor.id).toBe(user.id);
    await auth.accounts.updateUser(admin, user.id, { disabled: true });
    await expect(auth.authenticate({ session: cookie })).rejects.toMatchObject({ code: 'AUTH_INVALID' });
    expect(await refused(key)).toMatch(/disabled/);
  });

  it('keep at least one admin, and refuse duplicate names and short passwords', async () => {
    const admins = (await auth.accounts.listUsers()).filter((u) => u.role === 'admin');
    expect(admins).toHaveLength(1);
    await expect(
      auth.accounts.updateUser(admin, admins[0]?.id ?? '', { role: 'viewer' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(auth.accounts.createUser(admin, { username: 'olga', role: 'viewer' })).rejects.toMatchObject(
      {
        code: 'CONFLICT',
      },
    );
    await expect(
      auth.accounts.createUser(admin, { username: 'p', role: 'viewer', password: 'short' }),
    ).rejects.toThrow(/at least 12/);
  });

  it('limit sign-in attempts per address', async () => {
    const strict = await AuthService.create({
      store,
      settings: settings({ rateLimits: { ...settings().rateLimits, loginAttemptsPerMinute: 2 } }),
    });
    const attempt = () => strict.login({ username: 'olga', password: 'wrong password!!' }, '10.0.0.9');
    await expect(attempt()).rejects.toMatchObject({ code: 'AUTH_INVALID' });
    await expect(attempt()).rejects.toMatchObject({ code: 'AUTH_INVALID' });
    await expect(attempt()).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfterSeconds: 30 },
    });
  });
});

describe('bootstrap', () => {
  it('creates one admin with a key, once; a fixed key (ZIGGIE_BOOTSTRAP_TOKEN) becomes that key', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'ziggie-boot-'));
    const s = await openStore({ dataDir: fresh });
    try {
      const service = await AuthService.create({ store: s, settings: settings() });
      await expect(service.bootstrap('too short')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      const token = 'bootstrap-token-for-automation-0123456789';
      const first = await service.bootstrap(token);
      expect(first).toMatchObject({ fromEnvironment: true, admin: { username: 'admin', role: 'admin' } });
      expect(first.key).toBeUndefined();
      expect((await service.authenticate({ bearer: token }))?.actor).toEqual({
        type: 'user',
        id: first.admin.id,
      });
      const again = await service.bootstrap();
      expect(again).toEqual({ admin: first.admin, fromEnvironment: false });
      expect(await s.auth.apiKeys.list()).toHaveLength(1);
    } finally {
      await s.close();
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('gives local mode the bootstrap admin, and required mode nobody', async () => {
    const local = await AuthService.create({ store, settings: settings({ mode: 'local' }) });
    expect(local.localIdentity).toBeUndefined();
    const { admin: user } = await local.bootstrap();
    expect(local.localIdentity).toMatchObject({
      actor: { type: 'user', id: user.id },
      method: 'local',
      role: 'admin',
    });
    expect(local.localIdentity?.permissions).toEqual(rolePermissions('admin'));
    const required = await AuthService.create({ store, settings: settings() });
    await required.bootstrap();
    expect(required.localIdentity).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('apply per role and tier, admins and L0 unlimited unless configured', async () => {
    const service = await AuthService.create({
      store,
      settings: settings({
        rateLimits: {
          ...settings().rateLimits,
          requestsPerMinute: 100,
          roles: { viewer: { requestsPerMinute: 5 } },
          tiers: { L3: { toolCallsPerMinute: 7 }, L0: { toolCallsPerMinute: 9 } },
        },
      }),
    });
    const agent = (tier: 'L0' | 'L3'): Identity => ({
      actor: { type: 'agent', id: tier },
      permissions: new Set(),
      tier,
      method: 'api-key',
    });
    expect(service.limitsFor(userIdentity({ id: 'a', role: 'admin' }))).toEqual({
      requestsPerMinute: 0,
      toolCallsPerMinute: 0,
    });
    expect(service.limitsFor(userIdentity({ id: 'v', role: 'viewer' }))).toEqual({
      requestsPerMinute: 5,
      toolCallsPerMinute: 600,
    });
    expect(service.limitsFor(userIdentity({ id: 'o', role: 'operator' }))).toEqual({
      requestsPerMinute: 100,
      toolCallsPerMinute: 600,
    });
    expect(service.limitsFor(agent('L3'))).toEqual({ requestsPerMinute: 100, toolCallsPerMinute: 7 });
    expect(service.limitsFor(agent('L0'))).toEqual({ requestsPerMinute: 0, toolCallsPerMinute: 9 });
    const viewer = userIdentity({ id: 'v', role: 'viewer' });
    const decisions = Array.from({ length: 6 }, () => service.take(viewer, 'rest'));
    expect(decisions.slice(0, 5).every((d) => d.ok)).toBe(true);
    expect(decisions[5]).toEqual({ ok: false, retryAfterSeconds: 12 });
    // Another identity has its own bucket.
    expect(service.take(userIdentity({ id: 'w', role: 'viewer' }), 'rest').ok).toBe(true);
  });

  it('are audited as RATE_LIMIT_EXCEEDED, and refusals as AUTH_DENIED', async () => {
    const { ZiggieError } = await import('../core/errors.ts');
    const viewer = userIdentity({ id: 'usr_limited', role: 'viewer' });
    const error = auth.rateLimited(viewer, 'requests', { ok: false, retryAfterSeconds: 3 }, '10.1.2.3');
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 429, details: { retryAfterSeconds: 3 } });
    auth.denied(undefined, new ZiggieError('AUTH_REQUIRED', 'no credentials'), 'GET /api/users', '10.1.2.4');
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'RATE_LIMIT_EXCEEDED',
        actor: viewer.actor,
        ip: '10.1.2.3',
        outcome: 'denied',
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'AUTH_DENIED',
        actor: { type: 'system', id: 'anonymous' },
        entityId: 'GET /api/users',
        metadata: { code: 'AUTH_REQUIRED', reason: 'no credentials' },
        ip: '10.1.2.4',
      }),
    );
  });
});
