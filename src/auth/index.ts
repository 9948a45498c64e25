/** The auth room's public API: identities, tokens, API keys, sessions, rate limits. */
export {
  Accounts,
  NewKeySchema,
  NewUserSchema,
  publicKey,
  publicUser,
  UserChangeSchema,
} from './accounts.ts';
export { type AuditSink, type AuthAuditAction, type AuthAuditEvent, NO_AUDIT } from './audit-sink.ts';
export { AuthService, type AuthServiceDeps } from './auth-service.ts';
export { type AgentDirectory, Authenticator, type Credentials } from './authenticator.ts';
export { type AuthMethod, type Identity, identityKey } from './identity.ts';
export { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';
export { type RateDecision, RateLimiter } from './rate-limiter.ts';
export { type AuthMode, type AuthSettings, isLoopbackHost, resolveAuthMode } from './settings.ts';
export { type TokenClaims, TokenService } from './tokens.ts';
