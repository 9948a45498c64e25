import { z } from 'zod';

/**
 * What Ziggie needs to know to reach one upstream MCP server. The same shape comes from
 * `ziggie.yaml` (`mcpServers`), from a Claude Desktop style JSON file, from
 * `POST /api/mcp/servers`, and from the store (servers added at run time).
 */

/** Server names become tool-name prefixes and URL segments, so they are kept LLM- and URL-safe. */
export const SERVER_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,47}$/;

export const ServerNameSchema = z
  .string()
  .regex(
    SERVER_NAME_PATTERN,
    'a server name is 1-48 characters of letters, digits, "_" and "-", starting with a letter or digit',
  );

export const TransportKindSchema = z.enum(['stdio', 'http', 'sse', 'ws']);
export type TransportKind = z.infer<typeof TransportKindSchema>;

/** Protocol era an upstream speaks; `auto` detects it when connecting. */
export const ProtocolPinSchema = z.enum(['auto', '2025-11-25', '2026-07-28']);
export type ProtocolPin = z.infer<typeof ProtocolPinSchema>;

const CommonFields = {
  name: ServerNameSchema,
  /** Disabled servers are known but never connected. */
  enabled: z.boolean().default(true),
  /** `eager` connects at start; `lazy` on first use. */
  connect: z.enum(['eager', 'lazy']).default('eager'),
  /** Per-call timeout in milliseconds (overrides `gateway.callTimeoutMs`). */
  timeoutMs: z.number().int().positive().optional(),
  protocol: ProtocolPinSchema.default('auto'),
};

export const StdioUpstreamSchema = z.strictObject({
  ...CommonFields,
  transport: z.literal('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});

export const RemoteUpstreamSchema = z.strictObject({
  ...CommonFields,
  transport: z.enum(['http', 'sse', 'ws']),
  url: z.url(),
  headers: z.record(z.string(), z.string()).default({}),
});

/** A fully resolved upstream description (after config defaults were applied). */
export const UpstreamSpecSchema = z.discriminatedUnion('transport', [
  StdioUpstreamSchema,
  RemoteUpstreamSchema,
]);
export type UpstreamSpec = z.infer<typeof UpstreamSpecSchema>;
export type StdioUpstreamSpec = z.infer<typeof StdioUpstreamSchema>;
export type RemoteUpstreamSpec = z.infer<typeof RemoteUpstreamSchema>;
