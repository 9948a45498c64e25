import type { Agent, AgentPatch, AgentStatus, NewAgent } from '../core/agent.ts';
import type { HierarchyNode } from '../core/agent-hierarchy.ts';
import type { AuditEntry, ChainAnchor, ChainHead, NewAuditEntry } from '../core/audit.ts';
import type { Tier } from '../core/policy.ts';
import type { UpstreamSpec } from '../core/upstream-spec.ts';
import type { NewWorkspace, Workspace, WorkspacePatch, WorkspaceSource } from '../core/workspace.ts';
import type { AuthStore } from './auth-types.ts';
import type { Page } from './cursor.ts';
import type { TaskRepo } from './task-types.ts';

export type {
  ActiveAgentCount,
  CompletedAttempt,
  NewTask,
  TaskAssignment,
  TaskFilter,
  TaskLogEntry,
  TaskRepo,
  TaskUpdate,
  UsageGroup,
  UsageGroupBy,
  UsageQuery,
  UsageTotals,
} from './task-types.ts';

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

/** A tool definition seen in a listing, for `ToolPinRepo.observeAll`. */
export interface ToolObservation {
  tool: string;
  hash: string;
  definition: string;
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
  /** `observe` for several tools of one server in one transaction (one commit for a whole listing). */
  observeAll(server: string, observations: readonly ToolObservation[]): Promise<ToolPin[]>;
  /** Accepts the current definition: approvedHash := currentHash. Returns false when unknown. */
  approve(server: string, tool: string): Promise<boolean>;
}

export interface CallLogRepo {
  /** Appends entries in one transaction (callers batch them). */
  append(entries: readonly CallLogEntry[]): Promise<void>;
  /** Per-tool totals, optionally for one server. */
  stats(server?: string): Promise<ToolStats[]>;
}

/** Where an MCP task stands: the statuses of the Tasks extension (`io.modelcontextprotocol/tasks`). */
export type McpTaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

/** The JSON-RPC error a failed task ended with. */
export interface McpTaskError {
  code: number;
  message: string;
  data?: unknown;
}

/** A tool call the gateway runs as a task for one client (see `McpTaskRepo`). */
export interface McpTask {
  /** Unguessable (it is all a client needs to read the task, besides being its owner). */
  id: string;
  /** The identity that created it; nobody else sees it. */
  owner: string;
  /** The tool as the client named it. */
  tool: string;
  status: McpTaskStatus;
  statusMessage: string | null;
  /** The tool result, once `completed`. */
  result: Record<string, unknown> | null;
  /** The error, once `failed`. */
  error: McpTaskError | null;
  createdAt: Date;
  updatedAt: Date;
  /** When it may be deleted; null: never. */
  expiresAt: Date | null;
  /** The Ziggie process running it. */
  runner: string;
  /** Until when `runner` vouches for it; an in-flight task past its lease has lost its runner. */
  leaseUntil: Date;
}

export interface NewMcpTask {
  id: string;
  owner: string;
  tool: string;
  status: 'working' | 'input_required';
  statusMessage?: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  runner: string;
  leaseUntil: Date;
}

/** What a transition writes: the new status and, for terminal ones, the outcome. */
export interface McpTaskChange {
  status: McpTaskStatus;
  statusMessage?: string | null;
  result?: Record<string, unknown>;
  error?: McpTaskError;
}

export interface McpTaskRepo {
  create(task: NewMcpTask): Promise<McpTask>;
  /** The task, when it exists and `owner` owns it. */
  get(id: string, owner: string): Promise<McpTask | undefined>;
  /**
   * Moves a task that is still in flight (`working`, `input_required`) to `change.status`. Returns
   * false when the task is unknown or already ended: a terminal task never changes again.
   */
  transition(id: string, change: McpTaskChange): Promise<boolean>;
  /** Extends the lease of every in-flight task `runner` runs. Returns how many. */
  renewLeases(runner: string, until: Date): Promise<number>;
  /**
   * Ends as `failed` every in-flight task whose lease ended at or before `now`: its runner crashed,
   * was killed or lost the database. Returns how many.
   */
  failAbandoned(now: Date, statusMessage: string, error: McpTaskError): Promise<number>;
  /** Deletes the tasks whose time-to-live ended at or before `now`. Returns how many. */
  deleteExpired(now: Date): Promise<number>;
}

/** Which audit entries a listing, an export or a scan covers; every given field must match. */
export interface AuditFilter {
  actorType?: string;
  actorId?: string;
  /** Any of these actions. */
  actions?: readonly string[];
  entityType?: string;
  entityId?: string;
  outcome?: string;
  /** At or after. */
  since?: Date;
  /** Before. */
  until?: Date;
}

/** The hash-chained audit log (see audit-repo.ts). */
export interface AuditRepo {
  /**
   * Chains the entries after the last one and stores them, in the caller's transaction when used
   * through `store.transaction` (so they commit with the change they record). Returns them as stored.
   */
  append(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]>;
  /** Newest first, keyset-paginated. */
  list(filter: AuditFilter, page: { limit: number; cursor?: string | null }): Promise<Page<AuditEntry>>;
  /** Oldest first: up to `limit` entries with an id above `afterId` (exports and verification page with it). */
  scan(filter: AuditFilter, afterId: number, limit: number): Promise<AuditEntry[]>;
  /** The head (last entry appended) and the anchor (first entry kept). */
  chainState(): Promise<{ head: ChainHead; anchor: ChainAnchor }>;
  /** The id of the first entry (by id) whose time is at or after `time`. */
  firstIdAtOrAfter(time: Date): Promise<number | undefined>;
  /**
   * Deletes the entries below `cutId` and makes `cutId` the anchor, pointing back to `anchorHash`.
   * Does nothing (undefined) when the anchor is no longer `expectedAnchorId` (pruned meanwhile).
   */
  prune(expectedAnchorId: number, cutId: number, anchorHash: string): Promise<number | undefined>;
}

export interface WorkspaceFilter {
  status?: string;
  priority?: string;
  health?: string;
}

/** A port handed out from a workspace's range. */
export interface AllocatedPort {
  port: number;
  workspace: string;
  /** What it is for (`api`, `frontend`, …), when the caller said. */
  label: string | null;
  allocatedAt: Date;
}

/** The workspace registry (see workspace-repo.ts). */
export interface WorkspaceRepo {
  /**
   * Holds the registry's write lock until the current transaction ends, so that a check across rows
   * (overlapping ranges, the next free port) and the write it guards cannot interleave with another
   * node's. Call it first inside `store.transaction`.
   */
  lock(): Promise<void>;
  /** By name, keyset-paginated. */
  list(filter: WorkspaceFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Workspace>>;
  /** Every workspace, by name (the registry is small: range checks and exports read it whole). */
  all(): Promise<Workspace[]>;
  get(name: string): Promise<Workspace | undefined>;
  insert(workspace: NewWorkspace, source: WorkspaceSource): Promise<Workspace>;
  /** Undefined when there is no such workspace. */
  update(name: string, patch: WorkspacePatch, source?: WorkspaceSource): Promise<Workspace | undefined>;
  ports(name: string): Promise<AllocatedPort[]>;
  allocatePort(name: string, port: number, label: string | null): Promise<AllocatedPort>;
  releasePort(name: string, port: number): Promise<boolean>;
}

/** Which agents a listing covers; every given field must match. */
export interface AgentFilter {
  tier?: string;
  team?: string;
  /** Agents that have this skill. */
  skill?: string;
  workspace?: string;
  status?: string;
  parent?: string;
}

/** An agent as the hierarchy tree shows it. */
export interface AgentTreeRow {
  id: string;
  name: string;
  tier: Tier;
  team: string | null;
  workspace: string | null;
  parent: string | null;
  status: AgentStatus;
}

/** The agent registry (see agent-repo.ts). */
export interface AgentRepo {
  /** Holds the registry's write lock until the current transaction ends (as `WorkspaceRepo.lock`). */
  lock(): Promise<void>;
  /** By id, keyset-paginated. */
  list(filter: AgentFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Agent>>;
  get(id: string): Promise<Agent | undefined>;
  /** The agents among `ids` that exist, by id. */
  getMany(ids: readonly string[]): Promise<Map<string, Agent>>;
  /** The hierarchy fields of the agents among `ids` that exist. */
  nodes(ids: readonly string[]): Promise<HierarchyNode[]>;
  /** The agents whose parent is `id`. */
  children(id: string): Promise<HierarchyNode[]>;
  /** Inserts new agents in the order given (parents before their children). */
  insert(agents: readonly NewAgent[]): Promise<void>;
  /** Undefined when there is no such agent. */
  update(id: string, patch: AgentPatch): Promise<Agent | undefined>;
  /** Every agent (of a workspace), by id, with the fields a tree shows. */
  tree(filter: { workspace?: string }): Promise<AgentTreeRow[]>;
  /** How many agents of each tier a workspace has. */
  countByTier(workspace: string): Promise<Record<string, number>>;
  /** Agents (not disabled) whose executor binding is of one of `types`, by id. */
  withExecutor(types: readonly string[]): Promise<Array<{ id: string; capacity: number }>>;
}

/** The repositories, bound either to the store or to one transaction (`store.transaction`). */
export interface StoreRepos {
  readonly dialect: StoreDialect;
  readonly servers: ServerRepo;
  readonly toolPins: ToolPinRepo;
  readonly callLog: CallLogRepo;
  readonly mcpTasks: McpTaskRepo;
  /** Users, API keys, sessions and generated secrets (auth/). */
  readonly auth: AuthStore;
  readonly audit: AuditRepo;
  readonly workspaces: WorkspaceRepo;
  readonly agents: AgentRepo;
  readonly tasks: TaskRepo;
}

/** The repositories inside one transaction: everything they do commits or rolls back together. */
export type StoreTx = StoreRepos;

export interface Store extends StoreRepos {
  /**
   * Runs `fn` in one database transaction, with repositories bound to it: a change and the audit
   * entry that records it commit together or not at all. Rejects (after rolling back) when `fn` does.
   * Use only the `tx` repositories inside `fn`: on SQLite the store's own wait for the transaction.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Cheap round trip for `/readyz`; rejects when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
