/**
 * Token buckets, one per key (an identity and what it spends: `rest:user:usr_1`, `mcp:agent:a7`).
 * A bucket holds up to `perMinute` tokens and refills continuously at `perMinute` per minute, so a
 * burst of a minute's worth is allowed after a quiet minute, and a steady caller gets exactly its
 * rate. In process: each Ziggie node meters the calls it serves.
 */

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
  perMinute: number;
}

/** Buckets that are full again are forgotten when the map grows past this. */
const SWEEP_AT = 10_000;

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Takes one token from `key`'s bucket; `perMinute` 0 means no limit. */
  take(key: string, perMinute: number): RateDecision {
    if (perMinute <= 0) return { ok: true };
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (!bucket || bucket.perMinute !== perMinute) {
      if (this.#buckets.size >= SWEEP_AT) this.#sweep(now);
      bucket = { tokens: perMinute, at: now, perMinute };
      this.#buckets.set(key, bucket);
    }
    const perMs = perMinute / 60_000;
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
  }

  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      const refillMs = ((bucket.perMinute - bucket.tokens) / bucket.perMinute) * 60_000;
      if (now - bucket.at >= refillMs) this.#buckets.delete(key);
    }
  }
}
