/**
 * Who may do what through Ziggie's surfaces. Pure names and types; the policy that grants them
 * (roles, tiers, workspace scope) and the checks that enforce them live in `core/policy.ts` and the
 * API's auth hook.
 */

/**
 * Permissions a route, a CLI command or an MCP endpoint requires. Stable strings: they appear in
 * 403s, in token claims and in the audit log. The dotted names guard Ziggie's surfaces; the
 * UPPER_SNAKE names are the agent tiers' permissions from the design (what an agent may do in the
 * orchestration: execute, delegate, approve). Append only.
 */
export const PERMISSIONS = [
  'mcp.tools.list',
  'mcp.tools.execute',
  'mcp.admin',
  'workspaces.read',
  'workspaces.write',
  'agents.read',
  'agents.write',
  'audit.read',
  'users.manage',
  'keys.manage',
  'EXECUTE_TASK',
  'REPORT_STATUS',
  'DELEGATE_TO_L3',
  'AGGREGATE_L3_RESULTS',
  'REQUEST_L1_REVIEW',
  'DELEGATE_TO_L2',
  'APPROVE_ASSET',
  'MODIFY_PIPELINE',
  'CREATE_WORKFLOW',
  'MANAGE_AGENTS',
  'MODIFY_PERMISSIONS',
  'ACCESS_AUDIT_LOGS',
  'tasks.read',
  'tasks.write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Whether a string is one of the permission names. */
export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

/**
 * What a route declares in its Fastify `config.access`: a permission; `authenticated` (any
 * identity, whatever it may do: `GET /api/auth/me`); or `public` (no credentials).
 */
export type RouteAccess = Permission | 'authenticated' | 'public';

/** Who acted, as the audit log records it. */
export interface Actor {
  type: 'user' | 'agent' | 'key' | 'system';
  id: string;
}

/** The actor of requests made before authentication exists, and of Ziggie's own work. */
export const SYSTEM_ACTOR: Actor = { type: 'system', id: 'ziggie' };
