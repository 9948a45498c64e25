import { PERMISSIONS, type Permission } from './access.ts';

/**
 * The authorization policy: which permissions an agent tier and a user role hold, who may
 * delegate to whom, and the tier of each team. Pure data and functions; the auth hook and the
 * orchestrator ask it, nothing here does I/O.
 */

/** Agent tiers, highest first: L0 is Ziggie itself (SYSTEM), L3 the micro agents. */
export const TIERS = ['L0', 'L1', 'L2', 'L3'] as const;
export type Tier = (typeof TIERS)[number];

/** User roles. */
export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** MCP permissions: list (every read on an MCP endpoint), execute (tools/call), admin (servers). */
export const MCP_PERMISSIONS = ['mcp.tools.list', 'mcp.tools.execute', 'mcp.admin'] as const;

/**
 * What each tier adds to the tier below it (DESIGN.md "Tiers and what they may do"), plus the
 * surface permissions an agent of that tier needs to do it: every agent lists and calls tools and
 * reads and submits tasks (the delegation rules decide to whom), an
 * L2 reads the registry to find the L3s it delegates to, an L1 also reads workspaces. L0 holds
 * everything.
 */
const TIER_ADDS: Readonly<Record<Exclude<Tier, 'L0'>, readonly Permission[]>> = {
  L3: ['EXECUTE_TASK', 'REPORT_STATUS', 'mcp.tools.list', 'mcp.tools.execute', 'tasks.read', 'tasks.write'],
  L2: ['DELEGATE_TO_L3', 'AGGREGATE_L3_RESULTS', 'REQUEST_L1_REVIEW', 'agents.read'],
  L1: ['DELEGATE_TO_L2', 'APPROVE_ASSET', 'MODIFY_PIPELINE', 'CREATE_WORKFLOW', 'workspaces.read'],
};

/** Held by admins and L0 only: they change who may do what, or which servers exist. */
const ADMIN_ONLY: readonly Permission[] = ['users.manage', 'mcp.admin', 'MODIFY_PERMISSIONS'];

/** What a viewer may do: look, never change or call. */
const VIEWER: readonly Permission[] = ['mcp.tools.list', 'workspaces.read', 'agents.read', 'tasks.read'];

function freeze(permissions: Iterable<Permission>): ReadonlySet<Permission> {
  // Kept in PERMISSIONS order, so listings and token claims are stable.
  const set = new Set(permissions);
  return new Set(PERMISSIONS.filter((p) => set.has(p)));
}

const BY_TIER: Readonly<Record<Tier, ReadonlySet<Permission>>> = (() => {
  const l3 = freeze(TIER_ADDS.L3);
  const l2 = freeze([...l3, ...TIER_ADDS.L2]);
  const l1 = freeze([...l2, ...TIER_ADDS.L1]);
  return { L0: freeze(PERMISSIONS), L1: l1, L2: l2, L3: l3 };
})();

const BY_ROLE: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  admin: freeze(PERMISSIONS),
  operator: freeze(PERMISSIONS.filter((p) => !ADMIN_ONLY.includes(p))),
  viewer: freeze(VIEWER),
};

/** Every permission of an agent of this tier (a higher tier has everything below it). */
export function tierPermissions(tier: Tier): ReadonlySet<Permission> {
  return BY_TIER[tier];
}

/** Every permission of a user with this role. */
export function rolePermissions(role: Role): ReadonlySet<Permission> {
  return BY_ROLE[role];
}

/** 0 for L0 (highest) … 3 for L3. */
export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

/** Whether `a` is a higher tier than `b` (L1 is above L2). */
export function isAbove(a: Tier, b: Tier): boolean {
  return tierRank(a) < tierRank(b);
}

export interface DelegationPolicy {
  /** Also allow delegating to the same tier (the design's "unless a policy says so"). */
  sideways?: boolean;
}

/**
 * Whether an agent of tier `from` may hand work to an agent of tier `to`: down only (L1 → L2 →
 * L3, and L0 to anyone below it), never upward, sideways only when a policy allows it.
 */
export function canDelegate(from: Tier, to: Tier, policy: DelegationPolicy = {}): boolean {
  if (from === to) return policy.sideways === true;
  return isAbove(from, to);
}

/** The permission named after delegating to a tier (`DELEGATE_TO_L3`), where the design has one. */
export function delegationPermission(to: Tier): Permission | undefined {
  if (to === 'L3') return 'DELEGATE_TO_L3';
  if (to === 'L2') return 'DELEGATE_TO_L2';
  return undefined;
}

/**
 * Teams and their tier. BMAD (Backend, Frontend, E2E specialists) and the four Elite teams sit
 * with the L1 specialists, as in the seeds' hierarchy ("L1: Specialists (8 + BMAD + Elite)").
 */
export const TEAMS = {
  BMAD: { tier: 'L1', members: ['Backend', 'Frontend', 'E2E'] },
  'Elite-Art': { tier: 'L1', members: ['ARTEMIS', 'LEONIDAS', 'GAIA', 'VULCAN'] },
  'Elite-Design': { tier: 'L1', members: ['TERRA', 'PROMETHEUS', 'IRIS', 'MYTHOS'] },
  'Elite-Technical': { tier: 'L1', members: ['HEPHAESTUS', 'DAEDALUS', 'ARGUS'] },
  'Elite-Production': { tier: 'L1', members: ['MAXIMUS', 'FORGE', 'ATLAS'] },
} as const satisfies Record<string, { tier: Tier; members: readonly string[] }>;
export type Team = keyof typeof TEAMS;

/** The tier of a named team; undefined for a team the policy does not know. */
export function teamTier(team: string): Tier | undefined {
  return Object.hasOwn(TEAMS, team) ? TEAMS[team as Team].tier : undefined;
}

/** Whether a set of permissions holds all of `required`. */
export function holdsAll(held: ReadonlySet<Permission>, required: Iterable<Permission>): boolean {
  for (const p of required) if (!held.has(p)) return false;
  return true;
}

/** The permissions of `wanted` that `held` lacks, in PERMISSIONS order (empty: none missing). */
export function missingPermissions(
  held: ReadonlySet<Permission>,
  wanted: Iterable<Permission>,
): Permission[] {
  const want = new Set(wanted);
  return PERMISSIONS.filter((p) => want.has(p) && !held.has(p));
}
