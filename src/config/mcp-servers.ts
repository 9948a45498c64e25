import { z } from 'zod';
import {
  ProtocolPinSchema,
  ServerNameSchema,
  type TransportKind,
  type UpstreamSpec,
  UpstreamSpecSchema,
} from '../core/upstream-spec.ts';
import { type ConfigIssue, describeIssues, keyPath, show } from './issues.ts';
import { fromText } from './schema.ts';

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

/** YAML reads `--port 3000` or `DEBUG: true` as numbers and booleans; commands want strings. */
const Text = z.preprocess(
  (value) => (typeof value === 'number' || typeof value === 'boolean' ? String(value) : value),
  z.string(),
);

export const McpServerEntrySchema = z.strictObject({
  type: TransportNameSchema.optional(),
  transport: TransportNameSchema.optional(),
  command: z.string().min(1).optional(),
  args: z.array(Text).optional(),
  env: z.record(z.string(), Text).optional(),
  cwd: z.string().min(1).optional(),
  url: z.url().optional(),
  headers: z.record(z.string(), Text).optional(),
  enabled: fromText(z.boolean()).optional(),
  /** Claude Desktop / Cline spelling of `enabled: false`. */
  disabled: fromText(z.boolean()).optional(),
  connect: z.enum(['eager', 'lazy']).optional(),
  timeoutMs: fromText(z.number().int().positive()).optional(),
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
const URL_SCHEMES: Record<TransportKind, RegExp> = {
  stdio: /^$/,
  http: /^https?:$/,
  sse: /^https?:$/,
  ws: /^wss?:$/,
};

function transportOf(entry: McpServerEntry, path: string): TransportKind | ConfigIssue {
  if (entry.type && entry.transport && TRANSPORT_ALIASES[entry.type] !== TRANSPORT_ALIASES[entry.transport]) {
    return {
      path: keyPath(path, ['transport']),
      message: `disagrees with type "${entry.type}" (give one of them)`,
    };
  }
  const named = entry.type ?? entry.transport;
  if (named) return TRANSPORT_ALIASES[named] as TransportKind;
  if (entry.command !== undefined && entry.url !== undefined) {
    return {
      path: keyPath(path, ['url']),
      message: 'not allowed together with "command": a server is either stdio (command) or remote (url)',
    };
  }
  if (entry.command) return 'stdio';
  if (entry.url) return /^wss?:/i.test(entry.url) ? 'ws' : 'http';
  return { path, message: 'needs "command" (a stdio server) or "url" (a remote server)' };
}

/** Keys that do not belong to the entry's transport, a missing required key, a wrong URL scheme. */
function shapeIssues(entry: McpServerEntry, transport: TransportKind, path: string): ConfigIssue[] {
  const stdio = transport === 'stdio';
  const named = entry.type ?? entry.transport;
  const what = `${stdio ? 'a stdio' : 'a remote'} server${named ? ` (type "${named}")` : ''}`;
  const issues: ConfigIssue[] = (stdio ? REMOTE_ONLY : STDIO_ONLY)
    .filter((k) => entry[k] !== undefined)
    .map((k) => ({
      path: keyPath(path, [k]),
      message: `only for ${stdio ? 'remote' : 'stdio'} servers; this is ${what}`,
    }));
  const required = stdio ? 'command' : 'url';
  if (entry[required] === undefined) {
    issues.push({ path: keyPath(path, [required]), message: `required for ${what}` });
  }
  if (
    !stdio &&
    entry.url !== undefined &&
    !URL_SCHEMES[transport].test(URL.parse(entry.url)?.protocol ?? '')
  ) {
    issues.push({
      path: keyPath(path, ['url']),
      message: `expected a URL starting with ${transport === 'ws' ? 'ws:// or wss://' : 'http:// or https://'} for ${what} (got ${show(entry.url)})`,
    });
  }
  if (entry.enabled !== undefined && entry.disabled !== undefined && entry.enabled === entry.disabled) {
    issues.push({
      path: keyPath(path, ['disabled']),
      message: `contradicts enabled: ${entry.enabled} (give one of them)`,
    });
  }
  return issues;
}

/**
 * Turns one client-format entry into a resolved `UpstreamSpec`, or lists what is wrong with it,
 * each problem named by its key path under `path` (e.g. `mcpServers.github`; `''` for an API body,
 * where the name is its own `name` key).
 */
export function toUpstreamSpec(name: string, raw: unknown, path: string): EntryResult {
  const nameCheck = ServerNameSchema.safeParse(name);
  if (!nameCheck.success) {
    return {
      ok: false,
      issues: [
        {
          path: path || 'name',
          message: `invalid server name: expected 1-48 letters, digits, "_" or "-", starting with a letter or digit (got ${show(name)})`,
        },
      ],
    };
  }
  const parsed = McpServerEntrySchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, issues: describeIssues(parsed.error, raw, path, McpServerEntrySchema) };
  }
  const entry = parsed.data;
  const transport = transportOf(entry, path);
  if (typeof transport !== 'string') return { ok: false, issues: [transport] };
  const issues = shapeIssues(entry, transport, path);
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
