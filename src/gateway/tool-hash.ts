import { createHash } from 'node:crypto';
import type { Tool } from '@modelcontextprotocol/client';

/**
 * The fingerprint used for tool-definition pinning: SHA-256 over the canonical JSON (sorted keys) of
 * the parts of a tool a user trusts — name, title, description, schemas and annotations. `_meta` and
 * icons are left out: they change for cosmetic reasons and do not alter what the tool does.
 */
export function toolDefinitionHash(tool: Tool): string {
  return createHash('sha256')
    .update(canonicalJson(pinnedPart(tool)))
    .digest('hex');
}

/** The part of a tool definition that is pinned, as canonical JSON (what the store keeps for review). */
export function pinnedDefinitionJson(tool: Tool): string {
  return canonicalJson(pinnedPart(tool));
}

function pinnedPart(tool: Tool): Record<string, unknown> {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema,
    annotations: tool.annotations,
  };
}

/** JSON with object keys sorted at every depth and undefined members dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}
