import type { Actor, Permission } from '../core/access.ts';
import { ZiggieError } from '../core/errors.ts';
import { type Role, rolePermissions, type Tier, tierPermissions } from '../core/policy.ts';
import type { ApiKeyRecord, AuthStore, UserRecord } from '../store/auth-types.ts';
import type { Identity } from './identity.ts';
import { sha256 } from './secrets.ts';
import type { TokenService } from './tokens.ts';

/** The agent registry, as far as authentication needs it (wired by the composition root). */
export interface AgentDirectory {
  /** The agent's tier, and whether it is disabled; undefined when there is no such agent. */
  find(agentId: string): Promise<{ tier: Tier; disabled: boolean } | undefined>;
}

/** What a request presents. */
export interface Credentials {
  /** The value after `Bearer `: a JWT or an API key. */
  bearer?: string | undefined;
  /** The session cookie's value. */
  session?: string | undefined;
}

/** A JWT is three base64url parts; anything else after `Bearer` is taken for an API key. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** `last_used_at` is written at most this often per key. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Turns credentials into an identity. API keys and sessions are looked up on every request, so a
 * revocation (or a disabled user or agent) takes effect at once on every node; JWTs are checked
 * by signature and claims only, and live until their `exp`.
 */
export class Authenticator {
  readonly #store: AuthStore;
  readonly #tokens: TokenService;
  readonly #agents: AgentDirectory | undefined;
  readonly #touched = new Map<string, number>();

  constructor(store: AuthStore, tokens: TokenService, agents?: AgentDirectory) {
    this.#store = store;
    this.#tokens = tokens;
    this.#agents = agents;
  }

  /**
   * The identity the credentials prove; undefined when none are given. Invalid ones throw
   * `AUTH_INVALID`: a bad credential is never treated as no credential. `audiences`: what a JWT's
   * `aud` may be here (the configured audience, and an MCP endpoint's own URL).
   */
  async authenticate(credentials: Credentials, audiences?: readonly string[]): Promise<Identity | undefined> {
    const bearer = credentials.bearer?.trim();
    if (bearer) {
      return JWT_SHAPE.test(bearer) ? this.#fromToken(bearer, audiences) : this.fromApiKey(bearer);
    }
    if (credentials.session) return this.fromSession(credentials.session);
    return undefined;
  }

  async #fromToken(token: string, audiences?: readonly string[]): Promise<Identity> {
    const claims = await this.#tokens.verify(token, audiences);
    // An agent's token follows the registry: its tier today, refused once the agent is disabled or gone.
    const tier =
      claims.actor === 'agent' && claims.tier
        ? await this.#agentTier(claims.sub, claims.tier, 'access token')
        : claims.tier;
    // A token never carries more than its role or tier grants today.
    const granted =
      claims.actor === 'agent' ? tier && tierPermissions(tier) : claims.role && rolePermissions(claims.role);
    if (!granted) throw new ZiggieError('AUTH_INVALID', 'access token refused: malformed claims');
    return {
      actor: { type: claims.actor, id: claims.sub },
      permissions: new Set(claims.permissions.filter((p) => granted.has(p))),
      ...(claims.role ? { role: claims.role } : {}),
      ...(tier ? { tier } : {}),
      method: 'token',
      ...(claims.sid ? { credentialId: claims.sid } : {}),
      expiresAt: claims.exp,
    };
  }

  /** The identity an API key acts as; `AUTH_INVALID` when unknown, revoked, expired or its owner is disabled. */
  async fromApiKey(key: string): Promise<Identity> {
    const record = await this.#store.apiKeys.findByHash(sha256(key));
    const now = Date.now();
    if (!record) throw new ZiggieError('AUTH_INVALID', 'API key refused: unknown key');
    if (record.revokedAt) throw new ZiggieError('AUTH_INVALID', `API key ${record.prefix} refused: revoked`);
    if (record.expiresAt && record.expiresAt.getTime() <= now) {
      throw new ZiggieError('AUTH_INVALID', `API key ${record.prefix} refused: expired`);
    }
    const identity = await this.#keyIdentity(record);
    this.#touch(record.id, now);
    return identity;
  }

  async #keyIdentity(record: ApiKeyRecord): Promise<Identity> {
    const common = {
      method: 'api-key' as const,
      credentialId: record.id,
      ...(record.expiresAt ? { expiresAt: Math.floor(record.expiresAt.getTime() / 1000) } : {}),
    };
    if (record.kind === 'user') {
      const user = await this.#activeUser(record.subject ?? '', `API key ${record.prefix}`);
      return { ...userIdentity(user), ...common };
    }
    if (record.kind === 'agent') {
      const agentId = record.subject ?? '';
      const tier = await this.#agentTier(agentId, record.tier, `API key ${record.prefix}`);
      if (!tier) throw new ZiggieError('AUTH_INVALID', `API key ${record.prefix} refused: no tier`);
      return { actor: { type: 'agent', id: agentId }, permissions: tierPermissions(tier), tier, ...common };
    }
    const role = record.role ?? 'viewer';
    return { actor: { type: 'key', id: record.id }, permissions: rolePermissions(role), role, ...common };
  }

  /**
   * The tier an agent's credential acts with: the registry's, when one is connected (looked up on
   * every request, so a changed tier applies at once); `AUTH_INVALID` when the agent is disabled or
   * no longer registered. Without a registry, the tier the credential carries.
   */
  async #agentTier(
    agentId: string,
    carried: Tier | null | undefined,
    what: string,
  ): Promise<Tier | undefined> {
    if (!this.#agents) return carried ?? undefined;
    const agent = await this.#agents.find(agentId);
    if (!agent)
      throw new ZiggieError('AUTH_INVALID', `${what} refused: agent "${agentId}" is not registered`);
    if (agent.disabled)
      throw new ZiggieError('AUTH_INVALID', `${what} refused: agent "${agentId}" is disabled`);
    return agent.tier;
  }

  /** The identity of a session cookie; `AUTH_INVALID` when unknown, revoked, expired or its user is disabled. */
  async fromSession(cookie: string): Promise<Identity> {
    const session = await this.#store.sessions.findByHash(sha256(cookie));
    if (!session) throw new ZiggieError('AUTH_INVALID', 'session refused: unknown or signed out');
    if (session.revokedAt) throw new ZiggieError('AUTH_INVALID', 'session refused: signed out');
    if (session.expiresAt.getTime() <= Date.now())
      throw new ZiggieError('AUTH_INVALID', 'session refused: expired');
    const user = await this.#activeUser(session.userId, 'session');
    return {
      ...userIdentity(user),
      method: 'session',
      credentialId: session.id,
      expiresAt: Math.floor(session.expiresAt.getTime() / 1000),
    };
  }

  async #activeUser(id: string, what: string): Promise<UserRecord> {
    const user = await this.#store.users.get(id);
    if (!user || user.disabledAt)
      throw new ZiggieError('AUTH_INVALID', `${what} refused: its user is disabled`);
    return user;
  }

  #touch(keyId: string, now: number): void {
    const last = this.#touched.get(keyId) ?? 0;
    if (now - last < TOUCH_EVERY_MS) return;
    this.#touched.set(keyId, now);
    // Best effort: a failed write of the last-used time must not fail the request.
    void this.#store.apiKeys.touch(keyId, new Date(now)).catch(() => {});
  }
}

/** A user's identity (method and credential to be filled in by the caller). */
export function userIdentity(user: Pick<UserRecord, 'id' | 'role'>): Identity & { role: Role } {
  const actor: Actor = { type: 'user', id: user.id };
  return { actor, permissions: rolePermissions(user.role), role: user.role, method: 'local' };
}

/** The identity's permissions that are missing from `wanted`. */
export function lacking(identity: Identity, wanted: Iterable<Permission>): Permission[] {
  return [...wanted].filter((p) => !identity.permissions.has(p));
}
