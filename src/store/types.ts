import type { UpstreamSpec } from '../core/upstream-spec.ts';

/**
 * The storage port the gateway uses. `open-store.ts` returns one of these over SQLite (node:sqlite)
 * or PostgreSQL; every repository works the same on both.
 */

export type StoreDialect = 'sqlite' | 'postgres';

/** Where the stored definition of a tool stands against what the upstream serves now. */
export interface ToolPin {
  server: string;
  tool: string;
  /** sha256 of the canonical JSON of the tool definition (name, title, description, schemas, annotations). */
  approvedHash: string;
  /** The hash seen most recently; differs from `approvedHash` when the definition changed. */
  currentHash: string;
  /** The definition as last seen (JSON), so a reviewer can see what changed. */
  currentDefinition: string;
  firstSeenAt: Date;
  changedAt: Date | null;
}

export interface CallLogEntry {
  server: string;
  tool: string;
  /** 'ok' | 'error' (tool result isError) | 'failed' (protocol/transport error) */
  status: 'ok' | 'error' | 'failed';
  durationMs: number;
  at: Date;
}

export interface ToolStats {
  server: string;
  tool: string;
  calls: number;
  errors: number;
  avgMs: number;
  maxMs: number;
  lastAt: Date | null;
}

export interface ServerRepo {
  /** Servers added at run time (config-file servers are not stored). */
  list(): Promise<UpstreamSpec[]>;
  /** Inserts or replaces by name. */
  upsert(spec: UpstreamSpec): Promise<void>;
  /** Returns false when no such server was stored. */
  remove(name: string): Promise<boolean>;
}

export interface ToolPinRepo {
  list(server?: string): Promise<ToolPin[]>;
  get(server: string, tool: string): Promise<ToolPin | undefined>;
  /**
   * Records the hash seen now. First sighting: stored as approved. Later sightings update
   * `currentHash`/`currentDefinition` (and `changedAt` when it differs from the approved hash).
   * Returns the pin after the update.
   */
  observe(server: string, tool: string, hash: string, definition: string): Promise<ToolPin>;
  /** Accepts the current definition: approvedHash := currentHash. Returns false when unknown. */
  approve(server: string, tool: string): Promise<boolean>;
}

export interface CallLogRepo {
  /** Appends entries in one transaction (callers batch them). */
  append(entries: readonly CallLogEntry[]): Promise<void>;
  /** Per-tool totals, optionally for one server. */
  stats(server?: string): Promise<ToolStats[]>;
}

export interface Store {
  readonly dialect: StoreDialect;
  readonly servers: ServerRepo;
  readonly toolPins: ToolPinRepo;
  readonly callLog: CallLogRepo;
  /** Cheap round trip for `/readyz`; rejects when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
