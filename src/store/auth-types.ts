import type { Role, Tier } from '../core/policy.ts';

/** The identity repositories (users, API keys, sessions, generated secrets): the `auth` port of the store. */

export interface UserRecord {
  id: string;
  username: string;
  role: Role;
  /** `scrypt$…` (see auth/passwords.ts); null: no password, API keys only. */
  passwordHash: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** Set: the user can neither sign in nor use its keys and sessions. */
  disabledAt: Date | null;
}

export interface NewUser {
  id: string;
  username: string;
  role: Role;
  passwordHash: string | null;
  createdAt: Date;
}

export interface UserChange {
  role?: Role;
  passwordHash?: string | null;
  disabledAt?: Date | null;
}

export interface UserRepo {
  /** Undefined when the user name is taken. */
  create(user: NewUser): Promise<UserRecord | undefined>;
  get(id: string): Promise<UserRecord | undefined>;
  findByUsername(username: string): Promise<UserRecord | undefined>;
  /** Every user, oldest first. */
  list(): Promise<UserRecord[]>;
  /** Undefined when there is no such user. */
  update(id: string, change: UserChange, at: Date): Promise<UserRecord | undefined>;
  /** The oldest admin that is not disabled: the bootstrap admin. */
  firstAdmin(): Promise<UserRecord | undefined>;
}

/** Whom a key acts as: a user, an agent (with its tier), or itself with a role. */
export type ApiKeyKind = 'user' | 'agent' | 'role';

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The key's first characters, shown in listings; the key itself is never stored. */
  prefix: string;
  kind: ApiKeyKind;
  /** The user id (`user`) or agent id (`agent`); null for `role` keys. */
  subject: string | null;
  role: Role | null;
  tier: Tier | null;
  /** The actor that created it, as `type:id`. */
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface NewApiKey extends Omit<ApiKeyRecord, 'revokedAt' | 'lastUsedAt'> {
  /** SHA-256 of the whole key (hex). */
  keyHash: string;
}

export interface ApiKeyRepo {
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** The key whose SHA-256 is `keyHash`, revoked or not. */
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** Newest first; only those `createdBy` made when given. */
  list(filter?: { createdBy?: string }): Promise<ApiKeyRecord[]>;
  /** Marks it revoked; false when unknown or revoked already. */
  revoke(id: string, at: Date): Promise<boolean>;
  /** Records a use (callers throttle these writes). */
  touch(id: string, at: Date): Promise<void>;
}

export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

export interface NewSession extends Omit<SessionRecord, 'revokedAt'> {
  /** SHA-256 of the cookie value (hex). */
  tokenHash: string;
}

export interface SessionRepo {
  create(session: NewSession): Promise<SessionRecord>;
  findByHash(tokenHash: string): Promise<SessionRecord | undefined>;
  /** False when unknown or revoked already. */
  revoke(id: string, at: Date): Promise<boolean>;
  /** Revokes every live session of a user; returns how many. */
  revokeForUser(userId: string, at: Date): Promise<number>;
  /** Deletes sessions that expired at or before `now`; returns how many. */
  deleteExpired(now: Date): Promise<number>;
}

export interface SecretRepo {
  /**
   * The secret stored under `name`, created with `make()` when absent. Several nodes starting at
   * once agree on one value: the first insert wins, the others read it.
   */
  getOrCreate(name: string, make: () => string): Promise<string>;
}

export interface AuthStore {
  readonly users: UserRepo;
  readonly apiKeys: ApiKeyRepo;
  readonly sessions: SessionRepo;
  readonly secrets: SecretRepo;
}
