import { z } from 'zod';

/**
 * Workspaces: the projects Ziggie coordinates (DESIGN.md "Workspaces"). The schemas are the source
 * of truth for the config file, the REST API and the store; port-range rules are pure functions.
 */

export const WORKSPACE_STATUSES = ['active', 'planning', 'discovery', 'suspended', 'archived'] as const;
export type WorkspaceStatus = (typeof WORKSPACE_STATUSES)[number];

/** Cross-workspace work runs in waves by priority: P0 first. */
export const PRIORITIES = ['P0', 'P1', 'P2'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const WORKSPACE_HEALTH = ['on-track', 'at-risk', 'blocked'] as const;
export type WorkspaceHealth = (typeof WORKSPACE_HEALTH)[number];

/** Names appear in URLs (`/workspaces/<ws>/mcp`) and CLI arguments: lowercase, digits, `-`, `_`. */
export const WorkspaceNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'a workspace name is 1-63 lowercase letters, digits, "-" and "_", starting with a letter or digit',
  );

/** `[start, end]`, both included; `"3000-3099"` is accepted too. */
export type PortRange = readonly [start: number, end: number];

const Port = z.number().int().min(1).max(65_535);

export const PortRangeSchema = z
  .preprocess(
    (value) => {
      if (typeof value !== 'string') return value;
      const match = /^\s*(\d+)\s*[-–]\s*(\d+)\s*$/.exec(value);
      return match ? [Number(match[1]), Number(match[2])] : value;
    },
    z.tuple([Port, Port], { error: 'expected [start, end], e.g. [3000, 3099] or "3000-3099"' }),
  )
  .refine(([start, end]) => start <= end, 'the start of the range must not be above its end')
  .transform((range): PortRange => [range[0], range[1]]);

/** A workspace's definition: what `ziggie.yaml`, `POST /api/workspaces` and imports give. */
export const WorkspaceDefinitionSchema = z.strictObject({
  path: z.string().min(1),
  status: z.enum(WORKSPACE_STATUSES).default('active'),
  priority: z.enum(PRIORITIES).default('P1'),
  health: z.enum(WORKSPACE_HEALTH).default('on-track'),
  /** Owner, team, business value, …: free-form. */
  metadata: z.record(z.string(), z.unknown()).default({}),
  /** Ports handed out to the workspace's services; null: none. */
  portRange: PortRangeSchema.nullable().default(null),
  /** The MCP servers (by name) the workspace may use. */
  mcpServers: z.array(z.string().min(1)).default([]),
});
export type WorkspaceDefinition = z.infer<typeof WorkspaceDefinitionSchema>;

export const NewWorkspaceSchema = WorkspaceDefinitionSchema.extend({ name: WorkspaceNameSchema });
export type NewWorkspace = z.infer<typeof NewWorkspaceSchema>;

/** A change: any definition field; `portRange: null` removes the range. */
export const WorkspacePatchSchema = z.strictObject({
  path: z.string().min(1).optional(),
  status: z.enum(WORKSPACE_STATUSES).optional(),
  priority: z.enum(PRIORITIES).optional(),
  health: z.enum(WORKSPACE_HEALTH).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  portRange: PortRangeSchema.nullable().optional(),
  mcpServers: z.array(z.string().min(1)).optional(),
});
export type WorkspacePatch = z.infer<typeof WorkspacePatchSchema>;

/**
 * A workspace as `ziggie.yaml` (`workspaces: {<name>: …}`) and registry imports declare it: `path`
 * and only the keys given. A new workspace takes the defaults for the rest; an existing one has just
 * the given keys applied, so what was changed at run time and not declared (health, say) stays.
 */
export const WorkspaceDeclarationSchema = WorkspacePatchSchema.extend({ path: z.string().min(1) });
export type WorkspaceDeclaration = z.infer<typeof WorkspaceDeclarationSchema>;

/** Where a workspace was declared: `ziggie.yaml` (re-applied at every start) or the API / CLI. */
export type WorkspaceSource = 'config' | 'api';

/** A stored workspace. */
export interface Workspace extends NewWorkspace {
  source: WorkspaceSource;
  createdAt: Date;
  updatedAt: Date;
}

/** Whether two ranges share a port. */
export function rangesOverlap(a: PortRange, b: PortRange): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

export function formatRange(range: PortRange): string {
  return `${range[0]}-${range[1]}`;
}

/** The first other workspace whose range overlaps `range` (same-named entries are skipped). */
export function findOverlap<T extends { name: string; portRange: PortRange | null }>(
  name: string,
  range: PortRange | null,
  others: Iterable<T>,
): T | undefined {
  if (range === null) return undefined;
  for (const other of others) {
    if (other.name !== name && other.portRange !== null && rangesOverlap(range, other.portRange))
      return other;
  }
  return undefined;
}

/** The lowest port of `range` not in `taken`; undefined when every port is taken. */
export function nextFreePort(range: PortRange, taken: Iterable<number>): number | undefined {
  const used = new Set(taken);
  for (let port = range[0]; port <= range[1]; port++) if (!used.has(port)) return port;
  return undefined;
}

/** The fields of `patch` that differ from `current`, as `{field: {from, to}}` (for the audit log). */
export function workspaceChanges(
  current: WorkspaceDefinition,
  patch: WorkspacePatch,
): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of Object.keys(patch) as Array<keyof WorkspacePatch>) {
    const to = patch[key];
    if (to === undefined) continue;
    const from = current[key];
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[key] = { from, to };
  }
  return changes;
}
