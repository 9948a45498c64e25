import { describe, expect, it } from 'vitest';
import { ConfigFileSchema } from './schema.ts';

describe('config: auth', () => {
  it('has defaults for every key, the mode left to the listener', () => {
    const { auth } = ConfigFileSchema.parse({});
    expect(auth).toEqual({
      tokens: { issuer: 'ziggie', audience: 'ziggie', ttlMs: 900_000, maxTtlMs: 86_400_000 },
      sessions: { ttlMs: 43_200_000, cookieName: 'ziggie_session' },
      rateLimits: {
        enabled: true,
        requestsPerMinute: 600,
        toolCallsPerMinute: 600,
        loginAttemptsPerMinute: 10,
      },
    });
  });

  it('takes a mode, a public URL, a secret, and rates per role and tier (numbers given as text too)', () => {
    const { auth } = ConfigFileSchema.parse({
      auth: {
        mode: 'required',
        publicUrl: 'https://ziggie.example.com',
        tokens: { secret: 'x'.repeat(32) },
        rateLimits: {
          roles: { viewer: { requestsPerMinute: '30' } },
          tiers: { L3: { toolCallsPerMinute: 5 } },
        },
      },
    });
    expect(auth.mode).toBe('required');
    expect(auth.rateLimits.roles).toEqual({ viewer: { requestsPerMinute: 30 } });
    expect(auth.rateLimits.tiers).toEqual({ L3: { toolCallsPerMinute: 5 } });
  });

  it.each([
    [{ mode: 'open' }, 'mode'],
    [{ tokens: { secret: 'short' } }, 'tokens.secret'],
    [{ publicUrl: 'ftp://x' }, 'publicUrl'],
    [{ rateLimits: { roles: { root: {} } } }, 'rateLimits.roles'],
    [{ rateLimits: { tiers: { L3: { perHour: 1 } } } }, 'rateLimits.tiers.L3'],
    [{ sessions: { cookieName: 'a b' } }, 'sessions.cookieName'],
  ])('refuses %j', (auth, path) => {
    const result = ConfigFileSchema.safeParse({ auth });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => ['auth', ...i.path].join('.')).join(' ')).toContain(
      `auth.${path}`,
    );
  });
});
