import { ZiggieError } from '../core/errors.ts';
import type { Role, Tier } from '../core/policy.ts';

/** What the auth room is built from: the resolved `auth` section of ziggie.yaml, plus the mode in force. */
export interface AuthSettings {
  mode: AuthMode;
  publicUrl?: string | undefined;
  tokens: {
    secret?: string | undefined;
    issuer: string;
    audience: string;
    ttlMs: number;
    maxTtlMs: number;
  };
  sessions: { ttlMs: number; cookieName: string };
  rateLimits: {
    enabled: boolean;
    requestsPerMinute: number;
    toolCallsPerMinute: number;
    loginAttemptsPerMinute: number;
    roles?: Partial<Record<Role, RateOverride>> | undefined;
    tiers?: Partial<Record<Tier, RateOverride>> | undefined;
  };
}

export type AuthMode = 'required' | 'local';

export interface RateOverride {
  requestsPerMinute?: number | undefined;
  toolCallsPerMinute?: number | undefined;
}

/** Whether a host name or address is loopback-only (`127.0.0.1`, `::1`, `localhost`). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The mode in force for a listener on `host`: the configured one, else `local` on loopback. A
 * non-loopback host without `required` is refused: `local` there would hand admin rights to the
 * network.
 */
export function resolveAuthMode(configured: AuthMode | undefined, host: string): AuthMode {
  if (isLoopbackHost(host)) return configured ?? 'local';
  if (configured === 'required') return 'required';
  throw new ZiggieError(
    'CONFIG_INVALID',
    `auth.mode: Ziggie is asked to listen on "${host}", which is not a loopback address, so auth.mode must be "required" (got ${configured ? `"${configured}"` : 'nothing'}). Set auth.mode: required and sign in with the bootstrap admin's key, or listen on 127.0.0.1`,
  );
}
