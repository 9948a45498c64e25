import { createHash } from 'node:crypto';

/**
 * Names exposed on the aggregate endpoint: `<server><separator><name>`, always valid for LLM tool
 * APIs (`^[a-zA-Z0-9_-]{1,64}$`). Invalid characters become `_`; a name longer than 64 characters
 * keeps its first 55 characters and gets `-` plus 8 hex digits of the SHA-256 of the unshortened
 * original name, so the result is deterministic and two rewritten names do not collide.
 */

export const LLM_SAFE_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_LENGTH = 64;
const HASH_LENGTH = 8;

/** Makes `raw` LLM-safe, shortening it deterministically when needed. */
export function llmSafeName(raw: string): string {
  if (LLM_SAFE_NAME.test(raw)) return raw;
  // Replacing characters is lossy (`a.b` and `a/b` both become `a_b`), so every rewritten name
  // carries a hash of the original to keep distinct names distinct.
  const cleaned = raw.replace(/[^a-zA-Z0-9_-]/g, '_');
  return `${cleaned.slice(0, MAX_LENGTH - HASH_LENGTH - 1)}-${shortHash(raw)}`;
}

/** The exposed name of an upstream's tool or prompt on a prefixed (aggregate) view. */
export function qualifiedName(server: string, name: string, separator: string): string {
  return llmSafeName(`${server}${separator}${name}`);
}

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, HASH_LENGTH);
}

/**
 * Resource URIs on the aggregate endpoint are prefixed so a read routes back to its server:
 * `ziggie://<server>/<original uri>`. The prefix is literal, so resource templates stay valid
 * RFC 6570 templates after rewriting.
 */
const RESOURCE_PREFIX = 'ziggie://';

export function qualifiedResourceUri(server: string, uri: string): string {
  return `${RESOURCE_PREFIX}${server}/${uri}`;
}

/** Splits a rewritten URI into its server and original URI, or returns undefined when it is not one. */
export function parseQualifiedResourceUri(uri: string): { server: string; uri: string } | undefined {
  if (!uri.startsWith(RESOURCE_PREFIX)) return undefined;
  const rest = uri.slice(RESOURCE_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  return { server: rest.slice(0, slash), uri: rest.slice(slash + 1) };
}
