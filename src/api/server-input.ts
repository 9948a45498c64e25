import { formatIssues, toUpstreamSpec } from '../config/index.ts';
import { ZiggieError } from '../core/errors.ts';
import type { UpstreamSpec } from '../core/upstream-spec.ts';

/**
 * The body of `POST /api/mcp/servers`: `{name, ...}` plus one `mcpServers` entry in the MCP
 * clients' format, validated exactly like the config file's entries.
 */
export function normalizeServerEntry(body: unknown): UpstreamSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ZiggieError('VALIDATION_FAILED', '(body): expected an object with "name" and a server entry');
  }
  const { name, ...entry } = body as Record<string, unknown>;
  if (typeof name !== 'string') {
    throw new ZiggieError('VALIDATION_FAILED', 'name: required, a string (the server name)');
  }
  const result = toUpstreamSpec(name, entry, '');
  if (!result.ok) {
    throw new ZiggieError('VALIDATION_FAILED', formatIssues(result.issues), { issues: result.issues });
  }
  return result.spec;
}
