import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Random secrets and their one-way fingerprints: API keys, session cookies, ids. */

/** SHA-256 hex of a high-entropy secret (keys, cookies): a password hash is not needed for those. */
export function sha256(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A url-safe random string carrying `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** An id with a readable prefix: `usr_3k9…`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** API keys look like `zgk_<8 id chars>_<43 secret chars>`; the listing shows `zgk_<8 id chars>`. */
export const API_KEY_PREFIX = 'zgk_';

export interface GeneratedKey {
  /** Shown once, to whoever created it. */
  key: string;
  /** What listings show. */
  prefix: string;
  hash: string;
}

export function generateApiKey(): GeneratedKey {
  const key = `${API_KEY_PREFIX}${randomBytes(4).toString('hex')}_${randomToken(32)}`;
  return { key, prefix: displayPrefix(key), hash: sha256(key) };
}

/** The part of a key that is safe to show: up to the second `_`, or its first 8 characters. */
export function displayPrefix(key: string): string {
  const second = key.indexOf('_', API_KEY_PREFIX.length);
  return key.startsWith(API_KEY_PREFIX) && second > 0 ? key.slice(0, second) : `${key.slice(0, 8)}…`;
}

/** Constant-time comparison of two strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
