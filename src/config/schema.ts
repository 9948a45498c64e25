import { z } from 'zod';
import {
  findOverlap,
  formatRange,
  WorkspaceDeclarationSchema,
  WorkspaceNameSchema,
} from '../core/workspace.ts';

/**
 * The `ziggie.yaml` schema: every key, its type and its default. `mcpServers` is validated
 * entry by entry in `mcp-servers.ts` (it takes the MCP clients' format), so here it is a record.
 * docs/config.md describes every key; keep the two together.
 */

/**
 * `${VAR}` interpolation yields strings, so `port: ${PORT:-4000}` arrives as "4000": number and
 * boolean keys accept the string spelling of their value too.
 */
export function fromText<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    const text = value.trim();
    if (/^-?\d+$/.test(text)) return Number(text);
    if (text === 'true' || text === 'false') return text === 'true';
    return value;
  }, schema);
}

const int = () => z.number().int();

/** A section that may be left out or written empty (`gateway:` with nothing under it). */
function section<T extends z.ZodObject>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema.prefault({} as z.input<T>));
}

const GatewaySchema = z.strictObject({
  /** Between server name and tool/prompt name on the aggregate endpoint. */
  separator: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,4}$/, 'expected 1-4 characters of letters, digits, "_" and "-"')
    .default('__'),
  pinning: z.enum(['off', 'warn', 'strict']).default('warn'),
  callTimeoutMs: fromText(int().positive()).default(60_000),
  connectTimeoutMs: fromText(int().positive()).default(30_000),
  /** 0 turns the periodic health ping off. */
  healthIntervalMs: fromText(int().nonnegative()).default(30_000),
  restart: section(
    z.strictObject({
      initialDelayMs: fromText(int().positive()).default(1_000),
      maxDelayMs: fromText(int().positive()).default(60_000),
    }),
  ),
  breaker: section(
    z.strictObject({
      threshold: fromText(int().positive()).default(5),
      halfOpenAfterMs: fromText(int().positive()).default(30_000),
    }),
  ),
  /** Upstream calls of stateless (2026-07-28) clients kept open while waiting for their input. */
  heldCalls: section(
    z.strictObject({
      ttlMs: fromText(int().positive()).default(300_000),
      maxPerIdentity: fromText(int().positive()).default(32),
    }),
  ),
  /** Tool calls run as MCP tasks (`io.modelcontextprotocol/tasks`) for 2026-07-28 clients that support them. */
  tasks: section(
    z.strictObject({
      enabled: fromText(z.boolean()).default(true),
      /** A call still running after this long is answered with a task; 0: every call becomes one. */
      afterMs: fromText(int().nonnegative()).default(1_000),
      /** How long a task and its result are kept, from its creation. */
      ttlMs: fromText(int().positive()).default(3_600_000),
      pollIntervalMs: fromText(int().positive()).default(1_000),
      /** Tasks one identity may have in flight; its further calls are answered without a task. */
      maxPerIdentity: fromText(int().positive()).default(32),
      /** How long a process vouches for its running tasks; past it, others fail them (a crash). */
      leaseMs: fromText(int().min(300)).default(15_000),
    }),
  ),
});

const ServerSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: fromText(int().min(0).max(65_535)).default(4000),
  /** Extra Host header values accepted besides the loopback names (DNS-rebinding protection). */
  allowedHosts: z.array(z.string().min(1)).default([]),
  /** Extra browser origins accepted besides loopback origins. */
  allowedOrigins: z.array(z.string().min(1)).default([]),
  maxBodyBytes: fromText(int().positive()).default(4 * 1024 * 1024),
});

const StorageSchema = z.strictObject({
  /** `postgres://…`, `sqlite:<file>` or `:memory:`; without it, `<dataDir>/ziggie.db`. */
  url: z
    .string()
    .regex(
      /^(postgres(ql)?:\/\/|sqlite:|:memory:$)/,
      'expected postgres://…, postgresql://…, sqlite:<file> or :memory:',
    )
    .optional(),
  dataDir: z.string().min(1).default('.ziggie'),
});

const AuditSchema = z.strictObject({
  /** Entries older than this many days are pruned (hourly); 0 keeps them all. */
  retentionDays: fromText(int().nonnegative()).default(0),
});

/**
 * `workspaces: {<name>: {path, status, priority, health, portRange, mcpServers, metadata}}`: created at
 * start when missing, otherwise the keys given are applied. Ranges that share ports are refused here,
 * naming both workspaces.
 */
const WorkspacesSchema = z.preprocess(
  (value) => (value === null ? undefined : value),
  z
    .record(z.string(), WorkspaceDeclarationSchema)
    .default({})
    .superRefine((workspaces, ctx) => {
      for (const name of Object.keys(workspaces)) {
        const problem = WorkspaceNameSchema.safeParse(name).error?.issues[0]?.message;
        if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
      }
      const entries = Object.entries(workspaces).map(([name, w]) => ({
        name,
        portRange: w.portRange ?? null,
      }));
      entries.forEach((entry, i) => {
        const other = findOverlap(entry.name, entry.portRange, entries.slice(0, i));
        if (!other?.portRange || !entry.portRange) return;
        ctx.addIssue({
          code: 'custom',
          path: [entry.name, 'portRange'],
          message: `${formatRange(entry.portRange)} overlaps workspaces.${other.name}.portRange (${formatRange(other.portRange)})`,
        });
      });
    }),
);

const LoggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Request and tool-call rates of one identity; 0: no limit. Unset keys fall back to the defaults. */
const RateOverrideSchema = z.strictObject({
  requestsPerMinute: fromText(int().nonnegative()).optional(),
  toolCallsPerMinute: fromText(int().nonnegative()).optional(),
});
/** A mapping that may be left out or written empty. */
const optionalMap = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === null ? undefined : value), schema.optional());

const AuthSchema = z.strictObject({
  /**
   * `required`: every request but the public ones authenticates. `local`: requests reaching the
   * loopback listener without credentials act as the bootstrap admin; allowed only on a loopback
   * host. Unset: `local` on a loopback host; a non-loopback host must say `required`.
   */
  mode: z.enum(['required', 'local']).optional(),
  /** The address clients use (`https://ziggie.example.com`): MCP resource URLs, Secure cookies. */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  tokens: section(
    z.strictObject({
      /** HS256 signing secret (at least 32 characters); unset: generated at first start and stored. */
      secret: z.string().min(32, 'expected at least 32 characters').optional(),
      issuer: z.string().min(1).default('ziggie'),
      /** The audience tokens are issued for and checked against (besides an MCP endpoint's own URL). */
      audience: z.string().min(1).default('ziggie'),
      /** Lifetime of a token from `POST /api/auth/token` unless the request asks for less. */
      ttlMs: fromText(int().positive()).default(900_000),
      maxTtlMs: fromText(int().positive()).default(86_400_000),
    }),
  ),
  sessions: section(
    z.strictObject({
      ttlMs: fromText(int().positive()).default(43_200_000),
      cookieName: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" and "-"')
        .default('ziggie_session'),
    }),
  ),
  rateLimits: section(
    z.strictObject({
      enabled: fromText(z.boolean()).default(true),
      /** REST requests (and MCP requests other than tool calls) per identity per minute. */
      requestsPerMinute: fromText(int().nonnegative()).default(600),
      /** MCP `tools/call` requests (and `POST /api/mcp/execute`) per identity per minute. */
      toolCallsPerMinute: fromText(int().nonnegative()).default(600),
      /** Sign-in attempts per client address per minute. */
      loginAttemptsPerMinute: fromText(int().positive()).default(10),
      /** Per user role; admins are not limited unless a rate is set here. */
      roles: optionalMap(z.partialRecord(z.enum(['admin', 'operator', 'viewer']), RateOverrideSchema)),
      /** Per agent tier; L0 is not limited unless a rate is set here. */
      tiers: optionalMap(z.partialRecord(z.enum(['L0', 'L1', 'L2', 'L3']), RateOverrideSchema)),
    }),
  ),
});

/** A spending limit: new assignments stop once the tasks' totals reach it. */
const BudgetSchema = z.strictObject({
  /** In the deployment's currency (USD unless configured otherwise). */
  maxCost: fromText(z.number().nonnegative()).optional(),
  /** Input + output tokens. */
  maxTokens: fromText(int().nonnegative()).optional(),
});

/** Task orchestration (issue 4): attempts, leases, runners, budgets. */
const OrchestratorSchema = z.strictObject({
  /**
   * This node's name in leases. A restarted node re-drives at once the attempts its earlier run
   * held. Default: the host name and the HTTP port (distinct per process on one host).
   */
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'expected 1-100 letters, digits, ".", "_" and "-"')
    .optional(),
  /** How long an attempt's lease lasts without a heartbeat (runners heartbeat at a third of it). */
  leaseMs: fromText(int().min(100)).default(30_000),
  /** How often leases and deadlines are checked, and ASSIGNED tasks polled for. */
  sweepIntervalMs: fromText(int().min(10)).default(1_000),
  /** Attempts this node's runner (shell, http, mcp, llm executors) runs at once. */
  maxConcurrentRuns: fromText(int().positive()).default(16),
  /** How deep subtasks may nest. */
  maxDepth: fromText(int().min(0).max(64)).default(8),
  retry: section(
    z.strictObject({
      initialDelayMs: fromText(int().nonnegative()).default(1_000),
      maxDelayMs: fromText(int().nonnegative()).default(60_000),
    }),
  ),
  budgets: section(
    z.strictObject({
      agents: z.preprocess(
        (v) => (v === null ? undefined : v),
        z.record(z.string(), BudgetSchema).default({}),
      ),
      workspaces: z.preprocess(
        (v) => (v === null ? undefined : v),
        z.record(z.string(), BudgetSchema).default({}),
      ),
    }),
  ),
});

export const ConfigFileSchema = z.strictObject({
  mcpServers: z.preprocess(
    (value) => (value === null ? undefined : value),
    z.record(z.string(), z.unknown()).default({}),
  ),
  gateway: section(GatewaySchema),
  server: section(ServerSchema),
  storage: section(StorageSchema),
  logging: section(LoggingSchema),
  auth: section(AuthSchema),
  audit: section(AuditSchema),
  orchestrator: section(OrchestratorSchema),
  workspaces: WorkspacesSchema,
});
export type ConfigFile = z.infer<typeof ConfigFileSchema>;
