import { z } from 'zod';

/**
 * The `ziggie.yaml` schema: every key, its type and its default. `mcpServers` is validated
 * entry by entry in `mcp-servers.ts` (it takes the MCP clients' format), so here it is a record.
 */

const GatewaySchema = z.strictObject({
  /** Between server name and tool/prompt name on the aggregate endpoint. */
  separator: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,4}$/, 'a separator is 1-4 characters of letters, digits, "_" and "-"')
    .default('__'),
  pinning: z.enum(['off', 'warn', 'strict']).default('warn'),
  callTimeoutMs: z.number().int().positive().default(60_000),
  connectTimeoutMs: z.number().int().positive().default(30_000),
  /** 0 turns the periodic health ping off. */
  healthIntervalMs: z.number().int().nonnegative().default(30_000),
  restart: z
    .strictObject({
      initialDelayMs: z.number().int().positive().default(1_000),
      maxDelayMs: z.number().int().positive().default(60_000),
    })
    .default({ initialDelayMs: 1_000, maxDelayMs: 60_000 }),
  breaker: z
    .strictObject({
      threshold: z.number().int().positive().default(5),
      halfOpenAfterMs: z.number().int().positive().default(30_000),
    })
    .default({ threshold: 5, halfOpenAfterMs: 30_000 }),
});

const ServerSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(4000),
  /** Extra Host header values accepted besides the loopback names (DNS-rebinding protection). */
  allowedHosts: z.array(z.string().min(1)).default([]),
  /** Extra browser origins accepted besides loopback origins. */
  allowedOrigins: z.array(z.string().min(1)).default([]),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
});

const StorageSchema = z.strictObject({
  /** `postgres://…`, `sqlite:<file>` or `:memory:`; without it, `<dataDir>/ziggie.db`. */
  url: z.string().min(1).optional(),
  dataDir: z.string().min(1).default('.ziggie'),
});

const LoggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const ConfigFileSchema = z.strictObject({
  mcpServers: z.record(z.string(), z.unknown()).default({}),
  gateway: GatewaySchema.default(GatewaySchema.parse({})),
  server: ServerSchema.default(ServerSchema.parse({})),
  storage: StorageSchema.default(StorageSchema.parse({})),
  logging: LoggingSchema.default(LoggingSchema.parse({})),
});
export type ConfigFile = z.infer<typeof ConfigFileSchema>;
