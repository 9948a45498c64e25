import { errors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { isPermission, type Permission } from '../core/access.ts';
import { ZiggieError } from '../core/errors.ts';
import { ROLES, TIERS } from '../core/policy.ts';
import type { Identity } from './identity.ts';
import { randomToken } from './secrets.ts';

/**
 * JWT access tokens (jose), HS256 only: the algorithm is pinned on both sides, so `none` and
 * algorithm-confusion tokens are refused before any claim is read. Claims: `iss`, `aud`, `sub`,
 * `iat`, `exp`, `jti`, plus `actor` (user, agent or key), `role` or `tier`, `permissions` and
 * `sid` (the key or session the token was minted from).
 */
export const TOKEN_ALGORITHM = 'HS256';

export interface TokenSettings {
  /** At least 32 bytes. */
  secret: Uint8Array;
  issuer: string;
  audience: string;
}

const ClaimsSchema = z.object({
  sub: z.string().min(1),
  actor: z.enum(['user', 'agent', 'key']),
  role: z.enum(ROLES).optional(),
  tier: z.enum(TIERS).optional(),
  permissions: z.array(z.string().refine(isPermission, 'unknown permission')),
  sid: z.string().optional(),
  exp: z.number(),
});

export interface IssuedToken {
  token: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export class TokenService {
  readonly #settings: TokenSettings;

  constructor(settings: TokenSettings) {
    if (settings.secret.byteLength < 32)
      throw new Error('the token signing secret must be at least 32 bytes');
    this.#settings = settings;
  }

  get audience(): string {
    return this.#settings.audience;
  }

  /** Signs a token for `identity` with `permissions` (a subset of its own), valid `ttlSeconds`. */
  async issue(
    identity: Identity,
    permissions: readonly Permission[],
    ttlSeconds: number,
    audience: string = this.#settings.audience,
  ): Promise<IssuedToken> {
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + ttlSeconds;
    const token = await new SignJWT({
      actor: identity.actor.type,
      ...(identity.role ? { role: identity.role } : {}),
      ...(identity.tier ? { tier: identity.tier } : {}),
      permissions: [...permissions],
      ...(identity.credentialId ? { sid: identity.credentialId } : {}),
    })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
      .setIssuer(this.#settings.issuer)
      .setAudience(audience)
      .setSubject(identity.actor.id)
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .setJti(randomToken(12))
      .sign(this.#settings.secret);
    return { token, expiresAt };
  }

  /**
   * Verifies signature, algorithm, issuer, audience (one of `audiences`, default the configured
   * one) and expiry, then the claims' shape. Every failure is `AUTH_INVALID` with a reason that
   * names no secret.
   */
  async verify(
    token: string,
    audiences: readonly string[] = [this.#settings.audience],
  ): Promise<TokenClaims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.#settings.secret, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: this.#settings.issuer,
        audience: [...audiences],
        requiredClaims: ['exp', 'sub', 'iat'],
      }));
    } catch (error) {
      throw new ZiggieError('AUTH_INVALID', `access token refused: ${reasonOf(error)}`);
    }
    const claims = ClaimsSchema.safeParse(payload);
    if (!claims.success) throw new ZiggieError('AUTH_INVALID', 'access token refused: malformed claims');
    return claims.data as TokenClaims;
  }
}

export interface TokenClaims {
  sub: string;
  actor: 'user' | 'agent' | 'key';
  role?: (typeof ROLES)[number];
  tier?: (typeof TIERS)[number];
  permissions: Permission[];
  sid?: string;
  exp: number;
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim "${error.claim}" is not valid here`;
  if (error instanceof errors.JOSEAlgNotAllowed) return `algorithm not allowed (only ${TOKEN_ALGORITHM})`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  return 'not a valid token';
}
