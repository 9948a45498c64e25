/**
 * Who may do what through Ziggie's surfaces. Pure names and types; the policy that grants them
 * (roles, tiers, workspace scope) and the checks that enforce them live in `core/policy.ts` and the
 * API's auth hook.
 */

/** Permissions a route, a CLI command or an MCP endpoint requires. Stable strings: they appear in 403s. */
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
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What a route declares in its Fastify `config.access`: a permission, or `public` (no credentials). */
export type RouteAccess = Permission | 'public';

/** Who acted, as the audit log records it. */
export interface Actor {
  type: 'user' | 'agent' | 'key' | 'system';
  id: string;
}

/** The actor of requests made before authentication exists, and of Ziggie's own work. */
export const SYSTEM_ACTOR: Actor = { type: 'system', id: 'ziggie' };
