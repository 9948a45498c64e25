import type { Generated, Kysely } from 'kysely';
import type { AuthTables } from './auth-schema.ts';

/**
 * The tables as Kysely sees them. Types are the portable subset both dialects share: text,
 * integers, double precision. Timestamps are epoch milliseconds (bigint columns, read as numbers on
 * both dialects) and JSON is stored as text, so no query depends on a dialect's date or JSON type.
 */

/** Upstream servers added at run time; `spec_json` is an `UpstreamSpec`, re-validated when read. */
export interface UpstreamServersTable {
  name: string;
  spec_json: string;
  created_at: number;
  updated_at: number;
}

/** Tool-definition pinning, one row per (server, tool). */
export interface ToolPinsTable {
  server: string;
  tool: string;
  approved_hash: string;
  current_hash: string;
  current_definition: string;
  first_seen_at: number;
  changed_at: number | null;
}

/** One row per tool call through the gateway, appended in batches. */
export interface ToolCallsTable {
  id: Generated<number>;
  server: string;
  tool: string;
  status: 'ok' | 'error' | 'failed';
  duration_ms: number;
  at: number;
}

/** MCP tasks run by the gateway (see mcp-task-repo.ts); result and error are JSON text. */
export interface McpTasksTable {
  id: string;
  owner: string;
  tool: string;
  status: 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
  status_message: string | null;
  result_json: string | null;
  error_json: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  runner: string;
  lease_until: number;
}

/** Every table of the store. Migrations add tables; this interface follows them. */
export interface Database extends AuthTables {
  upstream_servers: UpstreamServersTable;
  tool_pins: ToolPinsTable;
  tool_calls: ToolCallsTable;
  mcp_tasks: McpTasksTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  workspaces: WorkspacesTable;
  workspace_ports: WorkspacePortsTable;
  agents: AgentsTable;
  agent_skills: AgentSkillsTable;
  tasks: TasksTable;
  task_transitions: TaskTransitionsTable;
  task_logs: TaskLogsTable;
}

/** The Kysely instance the repositories share. */
export type StoreDb = Kysely<Database>;

/** Where repositories report rows they skip. pino's `logger.warn(obj, msg)` fits this shape. */
export interface StoreLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

/** Used when no logger is given: a process warning still reaches stderr. */
export const processWarningLogger: StoreLogger = {
  warn(details, message) {
    process.emitWarning(`${message} ${JSON.stringify(details)}`, { code: 'ZIGGIE_STORE' });
  },
};

/** The hash-chained audit log (see audit-repo.ts); `id` is the position in the chain. */
export interface AuditLogTable {
  id: number;
  at: number;
  actor_type: string;
  actor_id: string;
  action: string;
  entity_type: string;
  entity_id: string | null;
  metadata_json: string;
  ip: string | null;
  duration_ms: number | null;
  outcome: string;
  prev_hash: string;
  hash: string;
}

/**
 * One row (`id` = 1): the last entry appended and where verification starts. Appends lock this row,
 * which serializes them across processes and nodes.
 */
export interface AuditHeadTable {
  id: number;
  last_id: number;
  last_hash: string;
  anchor_id: number;
  anchor_hash: string;
}

/** The workspace registry; `mcp_servers_json` is a JSON array of server names. */
export interface WorkspacesTable {
  name: string;
  path: string;
  status: string;
  priority: string;
  health: string;
  metadata_json: string;
  port_start: number | null;
  port_end: number | null;
  mcp_servers_json: string;
  source: string;
  created_at: number;
  updated_at: number;
}

/** Ports handed out from workspace ranges (ranges never overlap, so the port alone is the key). */
export interface WorkspacePortsTable {
  port: number;
  workspace: string;
  label: string | null;
  allocated_at: number;
}

/** The agent registry; skills are also in `agent_skills`, one row each, for indexed queries. */
export interface AgentsTable {
  id: string;
  name: string;
  tier: string;
  team: string | null;
  workspace: string | null;
  parent: string | null;
  skills_json: string;
  specialization: string | null;
  status: string;
  capacity: number;
  workload: number;
  quality_score: number;
  tasks_completed: number;
  avg_completion_ms: number | null;
  executor_json: string | null;
  metadata_json: string;
  created_at: number;
  updated_at: number;
}

export interface AgentSkillsTable {
  skill: string;
  agent_id: string;
}

/** Orchestrator tasks (see task-repo.ts); input, output, error and skills are JSON text. */
export interface TasksTable {
  id: string;
  task_type: string;
  status: string;
  priority: string;
  workspace: string | null;
  creator_type: string;
  creator_id: string;
  assignee: string | null;
  reviewer_type: string | null;
  reviewer_id: string | null;
  parent_id: string | null;
  depth: number;
  required_skills_json: string;
  input_json: string;
  output_json: string | null;
  error_json: string | null;
  review_feedback: string | null;
  attempts: number;
  max_attempts: number;
  rejections: number;
  idempotency_key: string | null;
  deadline: number | null;
  created_at: number;
  assigned_at: number | null;
  started_at: number | null;
  review_requested_at: number | null;
  reviewed_at: number | null;
  completed_at: number | null;
  updated_at: number;
  duration_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  why: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  not_before: number | null;
  child_policy: string | null;
  awaiting_children: number | null;
  complexity: string | null;
  milestone: number | null;
  tier: string | null;
}

/** Lines of a task's log (executor output), in order. */
export interface TaskLogsTable {
  id: Generated<number>;
  task_id: string;
  attempt: number;
  stream: string;
  text: string;
  at: number;
}

/** One row per status change of a task; `from_status` is null for the creation. */
export interface TaskTransitionsTable {
  id: Generated<number>;
  task_id: string;
  from_status: string | null;
  to_status: string;
  actor_type: string;
  actor_id: string;
  reason: string | null;
  at: number;
}
