import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.ts';
import { isLoopbackHost, resolveAuthMode } from './settings.ts';

describe('RateLimiter', () => {
  it('lets a minute of burst through, then refills at the rate, with Retry-After to the next token', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    for (let i = 0; i < 60; i++) expect(limiter.take('a', 60).ok).toBe(true);
    expect(limiter.take('a', 60)).toEqual({ ok: false, retryAfterSeconds: 1 });
    now += 999;
    expect(limiter.take('a', 60).ok).toBe(false);
    now += 1;
    expect(limiter.take('a', 60).ok).toBe(true);
    expect(limiter.take('b', 60).ok).toBe(true);
    expect(limiter.take('slow', 1).ok).toBe(true);
    expect(limiter.take('slow', 1)).toEqual({ ok: false, retryAfterSeconds: 60 });
  });

  it('never limits at 0', () => {
    const limiter = new RateLimiter(() => 0);
    for (let i = 0; i < 1000; i++) expect(limiter.take('x', 0).ok).toBe(true);
    expect(limiter.size).toBe(0);
  });

  it('never lets more through than burst plus refill (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 300 }),
        (perMinute, gaps) => {
          let now = 0;
          const limiter = new RateLimiter(() => now);
          let allowed = 0;
          for (const gap of gaps) {
            now += gap;
            const decision = limiter.take('k', perMinute);
            if (decision.ok) allowed++;
            else expect(decision.retryAfterSeconds).toBeGreaterThanOrEqual(1);
          }
          expect(allowed).toBeLessThanOrEqual(perMinute + Math.floor((now * perMinute) / 60_000) + 1);
        },
      ),
    );
  });

  it('forgets buckets that are full again once it holds many', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    for (let i = 0; i < 10_000; i++) limiter.take(`k${i}`, 60);
    now += 60_000;
    limiter.take('new', 60);
    expect(limiter.size).toBe(1);
  });
});

describe('auth mode', () => {
  it('defaults to local on loopback and refuses anything but required elsewhere', () => {
    expect(resolveAuthMode(undefined, '127.0.0.1')).toBe('local');
    expect(resolveAuthMode(undefined, 'localhost')).toBe('local');
    expect(resolveAuthMode('required', '::1')).toBe('required');
    expect(resolveAuthMode('required', '0.0.0.0')).toBe('required');
    for (const mode of [undefined, 'local'] as const) {
      expect(() => resolveAuthMode(mode, '0.0.0.0')).toThrow(/auth\.mode must be "required"/);
    }
    expect(() => resolveAuthMode(undefined, '192.168.1.4')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      expect(isLoopbackHost(host)).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1', '::ffff:10.0.0.1']) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });
});
