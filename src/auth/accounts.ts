import { z } from 'zod';
import { SYSTEM_ACTOR } from '../core/access.ts';
import type { NewAuditEntry } from '../core/audit.ts';
import { ZiggieError } from '../core/errors.ts';
import {
  missingPermissions,
  ROLES,
  type Role,
  rolePermissions,
  TIERS,
  tierPermissions,
} from '../core/policy.ts';
import type { ApiKeyRecord, AuthStore, NewApiKey, NewUser, UserRecord } from '../store/auth-types.ts';
import type { Store, StoreTx } from '../store/types.ts';
import type { AgentDirectory } from './authenticator.ts';
import { type Identity, identityKey } from './identity.ts';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.ts';
import { displayPrefix, generateApiKey, newId, sha256 } from './secrets.ts';

export const UsernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'expected 1-64 letters, digits, ".", "_", "@" and "-"');
export const PasswordSchema = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `expected at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(1024);

export const NewUserSchema = z.strictObject({
  username: UsernameSchema,
  role: z.enum(ROLES),
  /** Absent: the user signs in with API keys only. */
  password: PasswordSchema.optional(),
});
export const UserChangeSchema = z.strictObject({
  role: z.enum(ROLES).optional(),
  password: PasswordSchema.optional(),
  disabled: z.boolean().optional(),
});

/** `30d`, `12h`, `15m`, `45s`, or a number of seconds. */
const DurationSchema = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+[smhd]$/, 'expected a number of seconds or e.g. "30d", "12h", "15m"')
    .transform((text) => Number(text.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86_400 }[text.at(-1) as 's']),
]);
export const NewKeySchema = z
  .strictObject({
    name: z.string().min(1).max(100),
    role: z.enum(ROLES).optional(),
    agentId: z.string().min(1).max(200).optional(),
    /** Only when no agent registry is wired: the agent's tier. */
    tier: z.enum(TIERS).optional(),
    /** Seconds, or `30d`; absent: the key does not expire. */
    expiresIn: DurationSchema.optional(),
  })
  .refine((k) => !(k.role && k.agentId), { message: 'give role or agentId, not both', path: ['role'] })
  .refine((k) => !k.tier || k.agentId, { message: 'tier is for agent keys (agentId)', path: ['tier'] });

/** A user as the API shows it: never the password hash. */
export interface PublicUser {
  id: string;
  username: string;
  role: Role;
  hasPassword: boolean;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export function publicUser(user: UserRecord): PublicUser {
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    hasPassword: user.passwordHash !== null,
    disabled: user.disabledAt !== null,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/** An API key as the API shows it: never the key or its hash. */
export function publicKey(key: ApiKeyRecord) {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    kind: key.kind,
    ...(key.kind === 'user' ? { userId: key.subject } : {}),
    ...(key.kind === 'agent' ? { agentId: key.subject, tier: key.tier } : {}),
    ...(key.kind === 'role' ? { role: key.role } : {}),
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

/**
 * What accounts need of the store: the auth repositories, and transactions in which a change and
 * its audit entry commit together (or neither does).
 */
export type AccountsStore = Pick<Store, 'auth' | 'transaction'>;

/** A key ready to be stored: its record, and the key itself (returned once, stored only hashed). */
interface PreparedKey {
  key: string;
  record: NewApiKey;
}

/**
 * Users and API keys: create, change, list, revoke. Nobody hands out more than they hold: a key's
 * permissions must be a subset of its creator's. Every change is audited in the transaction that
 * makes it.
 */
export class Accounts {
  readonly #db: AccountsStore;
  readonly #store: AuthStore;
  readonly #agents: AgentDirectory | undefined;

  constructor(store: AccountsStore, agents?: AgentDirectory) {
    this.#db = store;
    this.#store = store.auth;
    this.#agents = agents;
  }

  async createUser(by: Identity, input: unknown, ip: string | null = null): Promise<UserRecord> {
    // Hashed before the transaction: scrypt is slow, and SQLite's write lock is held until commit.
    const user = await prepareUser(input);
    return this.#db.transaction((tx) => this.#insertUser(tx, by, user, ip));
  }

  async #insertUser(tx: StoreTx, by: Identity, user: NewUser, ip: string | null): Promise<UserRecord> {
    const created = await tx.auth.users.create(user);
    if (!created) {
      throw new ZiggieError('CONFLICT', `a user named "${user.username}" exists already`, {
        username: user.username,
      });
    }
    await tx.audit.append([
      entry(by, 'USER_CREATED', created.id, { username: created.username, role: created.role }, ip),
    ]);
    return created;
  }

  /** Changes role, password or disabled state; signs the user out everywhere on a password change or disable. */
  async updateUser(by: Identity, id: string, input: unknown, ip: string | null = null) {
    const change = UserChangeSchema.parse(input);
    await this.findUser(id); // NOT_FOUND before hashing a password
    const passwordHash = change.password ? await hashPassword(change.password) : undefined;
    return this.#db.transaction(async (tx) => {
      const user = await findUserIn(tx.auth, id);
      const losesAdmin =
        user.role === 'admin' && (change.disabled === true || (change.role && change.role !== 'admin'));
      if (losesAdmin && !user.disabledAt) {
        const admins = (await tx.auth.users.list()).filter((u) => u.role === 'admin' && !u.disabledAt);
        if (admins.length <= 1) {
          throw new ZiggieError('CONFLICT', `"${user.username}" is the last admin; make another admin first`);
        }
      }
      const now = new Date();
      const updated = await tx.auth.users.update(
        user.id,
        {
          ...(change.role ? { role: change.role } : {}),
          ...(passwordHash ? { passwordHash } : {}),
          ...(change.disabled === undefined ? {} : { disabledAt: change.disabled ? now : null }),
        },
        now,
      );
      const sessionsEnded =
        change.password || change.disabled ? await tx.auth.sessions.revokeForUser(user.id, now) : undefined;
      await tx.audit.append([
        entry(
          by,
          'USER_UPDATED',
          user.id,
          { role: change.role, password: Boolean(change.password), disabled: change.disabled, sessionsEnded },
          ip,
        ),
      ]);
      return updated ?? user;
    });
  }

  /** A user by id or user name; `NOT_FOUND` otherwise. */
  findUser(idOrName: string): Promise<UserRecord> {
    return findUserIn(this.#store, idOrName);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.#store.users.list();
  }

  /** Creates a key; its secret is in the answer and nowhere else. */
  async createKey(
    by: Identity,
    input: unknown,
    ip: string | null = null,
    fixedKey?: string,
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const prepared = await this.#prepareKey(by, input, fixedKey);
    const record = await this.#db.transaction((tx) => this.#insertKey(tx, by, prepared.record, ip));
    return { key: prepared.key, record };
  }

  /** Checks what the key may grant and makes it; stores nothing. */
  async #prepareKey(by: Identity, input: unknown, fixedKey?: string): Promise<PreparedKey> {
    const body = NewKeySchema.parse(input);
    let kind: ApiKeyRecord['kind'] = 'user';
    let subject: string | null = by.actor.id;
    let role: Role | null = null;
    let tier: ApiKeyRecord['tier'] = null;
    let grants = by.permissions;
    if (body.agentId) {
      kind = 'agent';
      subject = body.agentId;
      tier = await this.#agentTier(body.agentId, body.tier ?? null);
      grants = tierPermissions(tier);
    } else if (body.role) {
      kind = 'role';
      subject = null;
      role = body.role;
      grants = rolePermissions(role);
    } else if (by.actor.type !== 'user') {
      throw new ZiggieError('VALIDATION_FAILED', 'only a user gets a key of its own; give role or agentId');
    }
    const missing = missingPermissions(by.permissions, grants);
    if (missing.length > 0) {
      throw new ZiggieError(
        'PERMISSION_DENIED',
        `a key may not grant what its creator lacks: ${missing.map((p) => `"${p}"`).join(', ')}`,
        {
          missing,
        },
      );
    }
    const generated = fixedKey
      ? { key: fixedKey, prefix: displayPrefix(fixedKey), hash: sha256(fixedKey) }
      : generateApiKey();
    const now = new Date();
    const record: NewApiKey = {
      id: newId('key'),
      name: body.name,
      prefix: generated.prefix,
      keyHash: generated.hash,
      kind,
      subject,
      role,
      tier,
      createdBy: identityKey(by),
      createdAt: now,
      expiresAt: body.expiresIn === undefined ? null : new Date(now.getTime() + body.expiresIn * 1000),
    };
    return { key: generated.key, record };
  }

  async #insertKey(tx: StoreTx, by: Identity, key: NewApiKey, ip: string | null): Promise<ApiKeyRecord> {
    const record = await tx.auth.apiKeys.create(key);
    // The name, kind and grants; never the key or its hash.
    const { name, kind, role, tier, subject } = record;
    await tx.audit.append([
      entry(
        by,
        'KEY_CREATED',
        record.id,
        { name, kind, role, tier, agentId: kind === 'agent' ? subject : undefined },
        ip,
      ),
    ]);
    return record;
  }

  async #agentTier(agentId: string, given: ApiKeyRecord['tier']): Promise<NonNullable<ApiKeyRecord['tier']>> {
    if (this.#agents) {
      const agent = await this.#agents.find(agentId);
      if (!agent) throw new ZiggieError('NOT_FOUND', `no agent "${agentId}"`);
      return agent.tier;
    }
    if (!given) throw new ZiggieError('VALIDATION_FAILED', 'tier: required for an agent key (L0-L3)');
    return given;
  }

  /** Keys the identity may see: all of them with `users.manage`, else those it created or that act as it. */
  async listKeys(by: Identity): Promise<ApiKeyRecord[]> {
    const all = await this.#store.apiKeys.list();
    return all.filter((key) => this.#mayManage(by, key));
  }

  /** Revokes a key at once; `NOT_FOUND` for a key the identity may not see. */
  async revokeKey(by: Identity, id: string, ip: string | null = null): Promise<ApiKeyRecord> {
    return this.#db.transaction(async (tx) => {
      const key = await tx.auth.apiKeys.get(id);
      if (!key || !this.#mayManage(by, key)) throw new ZiggieError('NOT_FOUND', `no API key "${id}"`);
      // Revoked already (here or by a concurrent request): nothing changes, nothing is recorded.
      if (await tx.auth.apiKeys.revoke(id, new Date())) {
        await tx.audit.append([entry(by, 'KEY_REVOKED', id, { name: key.name, prefix: key.prefix }, ip)]);
      }
      return (await tx.auth.apiKeys.get(id)) ?? key;
    });
  }

  #mayManage(by: Identity, key: ApiKeyRecord): boolean {
    if (by.permissions.has('users.manage')) return true;
    return (
      key.createdBy === identityKey(by) ||
      (key.kind === 'user' && by.actor.type === 'user' && key.subject === by.actor.id)
    );
  }

  /**
   * First start: when no enabled admin exists, creates one (`admin`) with an API key — `fixedKey`
   * (`ZIGGIE_BOOTSTRAP_TOKEN`) or a generated one that is returned once. Safe to run on several
   * nodes at once: one admin is created. The admin, its key and both audit entries commit together.
   */
  async bootstrap(fixedKey?: string): Promise<{ admin: UserRecord; key?: string }> {
    const existing = await this.#store.users.firstAdmin();
    if (existing) return { admin: existing };
    const system: Identity = {
      actor: SYSTEM_ACTOR,
      permissions: rolePermissions('admin'),
      role: 'admin',
      method: 'local',
    };
    const taken = await this.#store.users.findByUsername('admin');
    const user = await prepareUser({
      username: taken ? `admin-${newId('x').slice(2, 8)}` : 'admin',
      role: 'admin',
    });
    const owner: Identity = {
      actor: { type: 'user', id: user.id },
      permissions: rolePermissions('admin'),
      role: 'admin',
      method: 'local',
    };
    const prepared = await this.#prepareKey(owner, { name: 'bootstrap' }, fixedKey);
    try {
      const admin = await this.#db.transaction(async (tx) => {
        const created = await this.#insertUser(tx, system, user, null);
        await this.#insertKey(tx, owner, prepared.record, null);
        return created;
      });
      return { admin, key: prepared.key };
    } catch (error) {
      // Another node created it meanwhile.
      const raced = await this.#store.users.firstAdmin();
      if (raced) return { admin: raced };
      throw error;
    }
  }
}

async function prepareUser(input: unknown): Promise<NewUser> {
  const { username, role, password } = NewUserSchema.parse(input);
  return {
    id: newId('usr'),
    username,
    role,
    passwordHash: password === undefined ? null : await hashPassword(password),
    createdAt: new Date(),
  };
}

async function findUserIn(store: AuthStore, idOrName: string): Promise<UserRecord> {
  const user = (await store.users.get(idOrName)) ?? (await store.users.findByUsername(idOrName));
  if (!user) throw new ZiggieError('NOT_FOUND', `no user "${idOrName}"`);
  return user;
}

/** The audit entry of an account change; metadata never holds key material or password hashes. */
function entry(
  by: Identity,
  action: 'USER_CREATED' | 'USER_UPDATED' | 'KEY_CREATED' | 'KEY_REVOKED',
  id: string,
  metadata: Record<string, unknown>,
  ip: string | null,
): NewAuditEntry {
  return {
    actor: by.actor,
    action,
    entityType: action.startsWith('USER') ? 'user' : 'key',
    entityId: id,
    metadata: Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined)),
    ip,
    outcome: 'success',
  };
}
