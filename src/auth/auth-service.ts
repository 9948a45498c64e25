import { z } from 'zod';
import { isPermission, type Permission } from '../core/access.ts';
import type { NewAuditEntry } from '../core/audit.ts';
import { ZiggieError } from '../core/errors.ts';
import { missingPermissions } from '../core/policy.ts';
import type { AuthStore, SessionRecord, UserRecord } from '../store/auth-types.ts';
import { Accounts, type AccountsStore, UsernameSchema } from './accounts.ts';
import { type AuditSink, type AuthAuditEvent, NO_AUDIT } from './audit-sink.ts';
import { type AgentDirectory, Authenticator, type Credentials, userIdentity } from './authenticator.ts';
import { type Identity, identityKey } from './identity.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { type RateDecision, RateLimiter } from './rate-limiter.ts';
import { newId, randomToken, sha256 } from './secrets.ts';
import type { AuthSettings } from './settings.ts';
import { type IssuedToken, TokenService } from './tokens.ts';

export interface AuthServiceDeps {
  /** The store (its `auth` repositories; transactions so that account changes commit with their audit entries). */
  store: AccountsStore;
  settings: AuthSettings;
  audit?: AuditSink;
  agents?: AgentDirectory;
}

export const LoginSchema = z.union([
  z.strictObject({ username: UsernameSchema, password: z.string().min(1).max(1024) }),
  z.strictObject({ apiKey: z.string().min(1).max(1024) }),
]);

export const TokenRequestSchema = z.strictObject({
  permissions: z.array(z.string().refine(isPermission, 'unknown permission')).optional(),
  /** Seconds; at most `auth.tokens.maxTtlMs`. */
  expiresIn: z.number().int().positive().optional(),
  audience: z.string().min(1).max(500).optional(),
});

/** Spent on a user name that does not exist, so a login takes as long either way. */
let dummyHash: Promise<string> | undefined;

/**
 * The auth room's one service: authentication, sessions, tokens, accounts, bootstrap and rate
 * limits, built once by the composition root.
 */
export class AuthService {
  readonly settings: AuthSettings;
  readonly accounts: Accounts;
  readonly authenticator: Authenticator;
  readonly tokens: TokenService;
  readonly #db: AccountsStore;
  readonly #store: AuthStore;
  readonly #audit: AuditSink;
  readonly #limiter = new RateLimiter();
  #local: Identity | undefined;

  private constructor(deps: AuthServiceDeps, tokens: TokenService) {
    this.settings = deps.settings;
    this.#db = deps.store;
    this.#store = deps.store.auth;
    this.#audit = deps.audit ?? NO_AUDIT;
    this.tokens = tokens;
    this.authenticator = new Authenticator(deps.store.auth, tokens, deps.agents);
    this.accounts = new Accounts(deps.store, deps.agents);
  }

  /** Builds the service; the signing key comes from config or is generated once and stored. */
  static async create(deps: AuthServiceDeps): Promise<AuthService> {
    const { tokens } = deps.settings;
    const secret =
      tokens.secret ?? (await deps.store.auth.secrets.getOrCreate('jwt-hs256', () => randomToken(32)));
    const service = new TokenService({
      secret: new TextEncoder().encode(secret),
      issuer: tokens.issuer,
      audience: tokens.audience,
    });
    return new AuthService(deps, service);
  }

  /**
   * Makes sure an admin exists (see `Accounts.bootstrap`) and remembers it as the identity of
   * local-mode requests. `key` is set when a new key was generated: show it once.
   */
  async bootstrap(fixedKey?: string): Promise<{ admin: UserRecord; key?: string; fromEnvironment: boolean }> {
    if (fixedKey !== undefined && !/^[\x21-\x7e]{24,512}$/.test(fixedKey)) {
      throw new ZiggieError(
        'CONFIG_INVALID',
        'ZIGGIE_BOOTSTRAP_TOKEN: expected 24-512 printable characters without spaces',
      );
    }
    if (fixedKey?.split('.').length === 3) {
      throw new ZiggieError('CONFIG_INVALID', 'ZIGGIE_BOOTSTRAP_TOKEN: must not look like a JWT (a.b.c)');
    }
    const result = await this.accounts.bootstrap(fixedKey);
    this.#local = { ...userIdentity(result.admin), method: 'local' };
    return {
      admin: result.admin,
      ...(result.key && !fixedKey ? { key: result.key } : {}),
      fromEnvironment: Boolean(result.key && fixedKey),
    };
  }

  /** Who a credential-less loopback request is in local mode: the bootstrap admin. */
  get localIdentity(): Identity | undefined {
    return this.settings.mode === 'local' ? this.#local : undefined;
  }

  authenticate(credentials: Credentials, audiences?: readonly string[]): Promise<Identity | undefined> {
    return this.authenticator.authenticate(credentials, audiences);
  }

  /** Password (or a user's own API key) → a new session; its cookie value is returned once. */
  async login(
    input: unknown,
    ip: string | null,
  ): Promise<{ cookie: string; session: SessionRecord; user: UserRecord }> {
    const attempt = this.#limiter.take(`login:${ip ?? '-'}`, this.settings.rateLimits.loginAttemptsPerMinute);
    if (!attempt.ok) {
      throw this.rateLimited({ actor: { type: 'system', id: 'anonymous' } }, 'login', attempt, ip);
    }
    const body = LoginSchema.parse(input);
    let user: UserRecord | undefined;
    if ('apiKey' in body) {
      const identity = await this.authenticator.fromApiKey(body.apiKey).catch(() => undefined);
      user =
        identity?.actor.type === 'user' && identity.method === 'api-key'
          ? await this.#store.users.get(identity.actor.id)
          : undefined;
    } else {
      const found = await this.#store.users.findByUsername(body.username);
      dummyHash ??= hashPassword(randomToken(16));
      const ok = await verifyPassword(body.password, found?.passwordHash ?? (await dummyHash));
      user = ok ? found : undefined;
    }
    if (!user || user.disabledAt) {
      this.#record({
        actor: { type: 'system', id: 'anonymous' },
        action: 'AUTH_LOGIN',
        entityType: 'session',
        entityId: null,
        metadata: 'username' in body ? { username: body.username } : { with: 'apiKey' },
        ip,
        outcome: 'failure',
      });
      throw new ZiggieError('AUTH_INVALID', 'sign-in refused: wrong user name, password or key');
    }
    const cookie = randomToken(32);
    const now = new Date();
    const signedIn = user;
    // The session and the entry that records it commit together.
    const session = await this.#db.transaction(async (tx) => {
      const created = await tx.auth.sessions.create({
        id: newId('ses'),
        userId: signedIn.id,
        tokenHash: sha256(cookie),
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.settings.sessions.ttlMs),
      });
      await tx.audit.append([sessionEntry({ type: 'user', id: signedIn.id }, 'AUTH_LOGIN', created.id, ip)]);
      return created;
    });
    return { cookie, session, user };
  }

  /** Ends the session of a session-authenticated identity, server-side. */
  async logout(identity: Identity | undefined, ip: string | null): Promise<boolean> {
    if (identity?.method !== 'session' || !identity.credentialId) return false;
    const sessionId = identity.credentialId;
    return this.#db.transaction(async (tx) => {
      const done = await tx.auth.sessions.revoke(sessionId, new Date());
      if (done) await tx.audit.append([sessionEntry(identity.actor, 'AUTH_LOGOUT', sessionId, ip)]);
      return done;
    });
  }

  /** A JWT for `identity`, narrowed to `permissions` if given, never outliving the credential it came from. */
  async issueToken(identity: Identity, input: unknown): Promise<IssuedToken & { permissions: Permission[] }> {
    const body = TokenRequestSchema.parse(input ?? {});
    const wanted = (body.permissions as Permission[] | undefined) ?? [...identity.permissions];
    const missing = missingPermissions(identity.permissions, wanted);
    if (missing.length > 0) {
      throw new ZiggieError(
        'PERMISSION_DENIED',
        `cannot issue a token with ${missing.map((p) => `"${p}"`).join(', ')}: not held`,
        {
          missing,
        },
      );
    }
    const { ttlMs, maxTtlMs } = this.settings.tokens;
    const maxSeconds = Math.floor(maxTtlMs / 1000);
    if (body.expiresIn !== undefined && body.expiresIn > maxSeconds) {
      throw new ZiggieError(
        'VALIDATION_FAILED',
        `expiresIn: at most ${maxSeconds} seconds (auth.tokens.maxTtlMs)`,
      );
    }
    let seconds = body.expiresIn ?? Math.floor(ttlMs / 1000);
    if (identity.expiresAt !== undefined) {
      seconds = Math.min(seconds, identity.expiresAt - Math.floor(Date.now() / 1000));
    }
    if (seconds <= 0) throw new ZiggieError('AUTH_INVALID', 'the credential has expired');
    const permissions = [...new Set(wanted)];
    const issued = await this.tokens.issue(identity, permissions, seconds, body.audience);
    return { ...issued, permissions };
  }

  /** The rates that apply to an identity (0: no limit). */
  limitsFor(identity: Identity): { requestsPerMinute: number; toolCallsPerMinute: number } {
    const r = this.settings.rateLimits;
    // Admins and L0 are unlimited unless a rate is configured for them.
    const unlimited = identity.role === 'admin' || identity.tier === 'L0' ? 0 : undefined;
    const override = identity.tier
      ? r.tiers?.[identity.tier]
      : identity.role
        ? r.roles?.[identity.role]
        : undefined;
    return {
      requestsPerMinute: override?.requestsPerMinute ?? unlimited ?? r.requestsPerMinute,
      toolCallsPerMinute: override?.toolCallsPerMinute ?? unlimited ?? r.toolCallsPerMinute,
    };
  }

  /** Spends one request (`rest`) or one tool call (`tool`) of the identity's rate. */
  take(identity: Identity, kind: 'rest' | 'tool'): RateDecision {
    if (!this.settings.rateLimits.enabled) return { ok: true };
    const limits = this.limitsFor(identity);
    const perMinute = kind === 'rest' ? limits.requestsPerMinute : limits.toolCallsPerMinute;
    return this.#limiter.take(`${kind}:${identityKey(identity)}`, perMinute);
  }

  /** The `RATE_LIMITED` error for a refused decision, audited as RATE_LIMIT_EXCEEDED. */
  rateLimited(
    identity: Pick<Identity, 'actor'>,
    what: string,
    decision: Extract<RateDecision, { ok: false }>,
    ip: string | null,
  ): ZiggieError {
    this.#record({
      actor: identity.actor,
      action: 'RATE_LIMIT_EXCEEDED',
      entityType: 'rate',
      entityId: what,
      metadata: { retryAfterSeconds: decision.retryAfterSeconds },
      ip,
      outcome: 'denied',
    });
    return new ZiggieError(
      'RATE_LIMITED',
      `rate limit reached for ${what}; try again in ${decision.retryAfterSeconds} s`,
      { retryAfterSeconds: decision.retryAfterSeconds },
    );
  }

  /** Records a refused request (no or bad credentials, or a missing permission) as AUTH_DENIED. */
  denied(identity: Identity | undefined, error: ZiggieError, target: string, ip: string | null): void {
    this.#record({
      actor: identity?.actor ?? { type: 'system', id: 'anonymous' },
      action: 'AUTH_DENIED',
      entityType: 'route',
      entityId: target,
      metadata: { code: error.code, reason: error.message },
      ip,
      outcome: 'denied',
    });
  }

  #record(event: AuthAuditEvent): void {
    try {
      void Promise.resolve(this.#audit.record(event)).catch(() => {});
    } catch {
      // A sink must not fail the request it records.
    }
  }
}

/** The audit entry of a sign-in or sign-out, written in the session change's transaction. */
function sessionEntry(
  actor: Identity['actor'],
  action: 'AUTH_LOGIN' | 'AUTH_LOGOUT',
  sessionId: string,
  ip: string | null,
): NewAuditEntry {
  return { actor, action, entityType: 'session', entityId: sessionId, metadata: {}, ip, outcome: 'success' };
}
