import { z } from 'zod';
import {
  ProtocolPinSchema,
  ServerNameSchema,
  type TransportKind,
  type UpstreamSpec,
  UpstreamSpecSchema,
} from '../core/upstream-spec.ts';
import { type ConfigIssue, describeIssues, keyPath } from './issues.ts';

/**
 * One `mcpServers` entry in the format MCP clients (Claude Desktop, Cursor, VS Code, Claude Code)
 * use, plus Ziggie's own per-server keys. `type` and `transport` are synonyms.
 */
const TRANSPORT_ALIASES: Record<string, TransportKind> = {
  stdio: 'stdio',
  http: 'http',
  'streamable-http': 'http',
  streamableHttp: 'http',
  sse: 'sse',
  ws: 'ws',
  websocket: 'ws',
};

const TransportNameSchema = z.enum(Object.keys(TRANSPORT_ALIASES) as [string, ...string[]]);

export const McpServerEntrySchema = z.strictObject({
  type: TransportNameSchema.optional(),
  transport: TransportNameSchema.optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().min(1).optional(),
  url: z.url().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  enabled: z.boolean().optional(),
  /** Claude Desktop / Cline spelling of `enabled: false`. */
  disabled: z.boolean().optional(),
  connect: z.enum(['eager', 'lazy']).optional(),
  timeoutMs: z.number().int().positive().optional(),
  protocol: ProtocolPinSchema.optional(),
  // Keys other clients keep in the same block; accepted so a pasted config loads, and ignored.
  autoApprove: z.array(z.string()).optional(),
  alwaysAllow: z.array(z.string()).optional(),
  description: z.string().optional(),
});
export type McpServerEntry = z.infer<typeof McpServerEntrySchema>;

export type EntryResult = { ok: true; spec: UpstreamSpec } | { ok: false; issues: ConfigIssue[] };

const STDIO_ONLY = ['command', 'args', 'env', 'cwd'] as const;
const REMOTE_ONLY = ['url', 'headers'] as const;

function transportOf(entry: McpServerEntry, path: string): TransportKind | ConfigIssue {
  if (entry.type && entry.transport && TRANSPORT_ALIASES[entry.type] !== TRANSPORT_ALIASES[entry.transport]) {
    return { path: `${path}.transport`, message: `disagrees with type "${entry.type}"` };
  }
  const named = entry.type ?? entry.transport;
  if (named) return TRANSPORT_ALIASES[named] as TransportKind;
  if (entry.command) return 'stdio';
  if (entry.url) return /^wss?:/i.test(entry.url) ? 'ws' : 'http';
  return { path, message: 'needs "command" (a stdio server) or "url" (a remote server)' };
}

/**
 * Turns one client-format entry into a resolved `UpstreamSpec`, or lists what is wrong with it,
 * each problem named by its key path under `path` (e.g. `mcpServers.github`).
 */
export function toUpstreamSpec(name: string, raw: unknown, path: string): EntryResult {
  const nameCheck = ServerNameSchema.safeParse(name);
  if (!nameCheck.success) {
    return {
      ok: false,
      issues: [{ path, message: `invalid server name "${name}": ${nameCheck.error.issues[0]?.message}` }],
    };
  }
  const parsed = McpServerEntrySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: describeIssues(parsed.error, raw, path) };
  const entry = parsed.data;
  const transport = transportOf(entry, path);
  if (typeof transport !== 'string') return { ok: false, issues: [transport] };

  const misplaced = (transport === 'stdio' ? REMOTE_ONLY : STDIO_ONLY).filter((k) => entry[k] !== undefined);
  const required = transport === 'stdio' ? 'command' : 'url';
  const issues: ConfigIssue[] = misplaced.map((k) => ({
    path: keyPath(path, [k]),
    message: `not allowed for a ${transport} server`,
  }));
  if (entry[required] === undefined) {
    issues.push({ path: keyPath(path, [required]), message: `required for a ${transport} server` });
  }
  if (issues.length > 0) return { ok: false, issues };

  const common = {
    name,
    enabled: entry.enabled ?? !entry.disabled,
    connect: entry.connect ?? 'eager',
    protocol: entry.protocol ?? 'auto',
    ...(entry.timeoutMs ? { timeoutMs: entry.timeoutMs } : {}),
  };
  const candidate =
    transport === 'stdio'
      ? {
          ...common,
          transport,
          command: entry.command,
          args: entry.args ?? [],
          env: entry.env ?? {},
          ...(entry.cwd ? { cwd: entry.cwd } : {}),
        }
      : { ...common, transport, url: entry.url, headers: entry.headers ?? {} };
  const spec = UpstreamSpecSchema.safeParse(candidate);
  if (!spec.success) return { ok: false, issues: describeIssues(spec.error, candidate, path) };
  return { ok: true, spec: spec.data };
}

/** Resolves a whole `mcpServers` block; all problems are collected before failing. */
export function resolveMcpServers(
  block: Record<string, unknown>,
  path = 'mcpServers',
): { specs: Record<string, UpstreamSpec>; issues: ConfigIssue[] } {
  const specs: Record<string, UpstreamSpec> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, raw] of Object.entries(block)) {
    const result = toUpstreamSpec(name, raw, keyPath(path, [name]));
    if (result.ok) specs[name] = result.spec;
    else issues.push(...result.issues);
  }
  return { specs, issues };
}
