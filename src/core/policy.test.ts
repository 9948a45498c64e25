import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, type Permission } from './access.ts';
import {
  canDelegate,
  delegationPermission,
  holdsAll,
  isAbove,
  missingPermissions,
  ROLES,
  type Role,
  rolePermissions,
  TEAMS,
  TIERS,
  type Tier,
  teamTier,
  tierPermissions,
  tierRank,
} from './policy.ts';

/**
 * The whole policy written out by hand, one row per permission: the columns are viewer,
 * operator, admin, L3, L2, L1, L0 ("x" holds it). The implementation must agree cell by cell.
 */
const TABLE: Record<Permission, string> = {
  //                      viewer op admin L3 L2 L1 L0
  'mcp.tools.list': '     x     x  x     x  x  x  x',
  'mcp.tools.execute': '  .     x  x     x  x  x  x',
  'mcp.admin': '          .     .  x     .  .  .  x',
  'workspaces.read': '    x     x  x     .  .  x  x',
  'workspaces.write': '   .     x  x     .  .  .  x',
  'agents.read': '        x     x  x     .  x  x  x',
  'agents.write': '       .     x  x     .  .  .  x',
  'audit.read': '         .     x  x     .  .  .  x',
  'users.manage': '       .     .  x     .  .  .  x',
  'keys.manage': '        .     x  x     .  .  .  x',
  EXECUTE_TASK: '         .     x  x     x  x  x  x',
  REPORT_STATUS: '        .     x  x     x  x  x  x',
  DELEGATE_TO_L3: '       .     x  x     .  x  x  x',
  AGGREGATE_L3_RESULTS: ' .     x  x     .  x  x  x',
  REQUEST_L1_REVIEW: '    .     x  x     .  x  x  x',
  DELEGATE_TO_L2: '       .     x  x     .  .  x  x',
  APPROVE_ASSET: '        .     x  x     .  .  x  x',
  MODIFY_PIPELINE: '      .     x  x     .  .  x  x',
  CREATE_WORKFLOW: '      .     x  x     .  .  x  x',
  MANAGE_AGENTS: '        .     x  x     .  .  .  x',
  MODIFY_PERMISSIONS: '   .     .  x     .  .  .  x',
  ACCESS_AUDIT_LOGS: '    .     x  x     .  .  .  x',
  'tasks.read': '         x     x  x     x  x  x  x',
  'tasks.write': '        .     x  x     x  x  x  x',
};
const COLUMNS = ['viewer', 'operator', 'admin', 'L3', 'L2', 'L1', 'L0'] as const;

function expected(permission: Permission, column: (typeof COLUMNS)[number]): boolean {
  const cells = TABLE[permission].trim().split(/\s+/);
  return cells[COLUMNS.indexOf(column)] === 'x';
}

describe('policy: the permission table', () => {
  it('has a row for every permission and seven cells in each', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...PERMISSIONS].sort());
    for (const row of Object.values(TABLE)) expect(row.trim().split(/\s+/)).toHaveLength(7);
  });

  const roleCells = ROLES.flatMap((role) => PERMISSIONS.map((permission) => ({ role, permission })));
  it.each(roleCells)('role $role × $permission', ({ role, permission }) => {
    expect(rolePermissions(role).has(permission)).toBe(expected(permission, role));
  });

  const tierCells = TIERS.flatMap((tier) => PERMISSIONS.map((permission) => ({ tier, permission })));
  it.each(tierCells)('tier $tier × $permission', ({ tier, permission }) => {
    expect(tierPermissions(tier).has(permission)).toBe(expected(permission, tier));
  });

  it('gives the design tier table exactly: L3 → L2 → L1 → L0 each adding its own', () => {
    const design = (tier: Tier) => [...tierPermissions(tier)].filter((p) => /^[A-Z_0-9]+$/.test(p));
    expect(design('L3')).toEqual(['EXECUTE_TASK', 'REPORT_STATUS']);
    expect(design('L2')).toEqual([
      'EXECUTE_TASK',
      'REPORT_STATUS',
      'DELEGATE_TO_L3',
      'AGGREGATE_L3_RESULTS',
      'REQUEST_L1_REVIEW',
    ]);
    expect(design('L1')).toEqual([
      ...design('L2'),
      'DELEGATE_TO_L2',
      'APPROVE_ASSET',
      'MODIFY_PIPELINE',
      'CREATE_WORKFLOW',
    ]);
    expect(design('L0')).toEqual([
      ...design('L1'),
      'MANAGE_AGENTS',
      'MODIFY_PERMISSIONS',
      'ACCESS_AUDIT_LOGS',
    ]);
  });

  it('lists permissions in the registry order', () => {
    for (const set of [...TIERS.map(tierPermissions), ...ROLES.map(rolePermissions)]) {
      const list = [...set];
      expect(list).toEqual(PERMISSIONS.filter((p) => set.has(p)));
    }
  });
});

describe('policy: delegation', () => {
  const pairs = TIERS.flatMap((from) => TIERS.map((to) => ({ from, to })));
  // Down only: the target must be strictly lower.
  const allowed = new Set(['L0>L1', 'L0>L2', 'L0>L3', 'L1>L2', 'L1>L3', 'L2>L3']);

  it.each(pairs)('$from → $to', ({ from, to }) => {
    expect(canDelegate(from, to)).toBe(allowed.has(`${from}>${to}`));
    expect(canDelegate(from, to, { sideways: true })).toBe(allowed.has(`${from}>${to}`) || from === to);
  });

  it('names the delegation permissions, and the delegating tier holds them', () => {
    expect(delegationPermission('L3')).toBe('DELEGATE_TO_L3');
    expect(delegationPermission('L2')).toBe('DELEGATE_TO_L2');
    expect(delegationPermission('L1')).toBeUndefined();
    expect(delegationPermission('L0')).toBeUndefined();
    for (const { from, to } of pairs) {
      const permission = delegationPermission(to);
      if (canDelegate(from, to) && permission) expect(tierPermissions(from).has(permission)).toBe(true);
    }
  });
});

describe('policy: teams', () => {
  it('gives BMAD and the four Elite teams a tier, with the 14 Elite agents', () => {
    expect(teamTier('BMAD')).toBe('L1');
    for (const team of ['Elite-Art', 'Elite-Design', 'Elite-Technical', 'Elite-Production']) {
      expect(teamTier(team)).toBe('L1');
    }
    const elite = Object.entries(TEAMS)
      .filter(([name]) => name.startsWith('Elite-'))
      .flatMap(([, team]) => team.members);
    expect(elite).toHaveLength(14);
    expect(elite).toContain('PROMETHEUS');
    expect(teamTier('no-such-team')).toBeUndefined();
    expect(teamTier('toString')).toBeUndefined();
  });
});

const tier = fc.constantFrom(...TIERS);
const role = fc.constantFrom(...ROLES);
const permissions = fc.subarray([...PERMISSIONS]);

describe('policy: properties', () => {
  it('a higher tier holds everything a lower tier holds', () => {
    fc.assert(
      fc.property(tier, tier, (a, b) => {
        if (!isAbove(a, b)) return;
        for (const p of tierPermissions(b)) expect(tierPermissions(a).has(p)).toBe(true);
        expect(tierPermissions(a).size).toBeGreaterThan(tierPermissions(b).size);
      }),
    );
  });

  it('delegation never goes up, and is transitive downwards', () => {
    fc.assert(
      fc.property(tier, tier, tier, fc.boolean(), (a, b, c, sideways) => {
        if (canDelegate(a, b, { sideways })) expect(tierRank(a)).toBeLessThanOrEqual(tierRank(b));
        if (canDelegate(a, b) && canDelegate(b, c)) expect(canDelegate(a, c)).toBe(true);
        expect(canDelegate(a, b) && canDelegate(b, a)).toBe(false);
      }),
    );
  });

  it('roles are ordered viewer ⊂ operator ⊂ admin, and admin and L0 hold everything', () => {
    const order: Role[] = ['viewer', 'operator', 'admin'];
    fc.assert(
      fc.property(role, role, (a, b) => {
        if (order.indexOf(a) > order.indexOf(b)) return;
        expect(holdsAll(rolePermissions(b), rolePermissions(a))).toBe(true);
      }),
    );
    expect(rolePermissions('admin').size).toBe(PERMISSIONS.length);
    expect(tierPermissions('L0').size).toBe(PERMISSIONS.length);
  });

  it('missingPermissions is empty exactly when holdsAll', () => {
    fc.assert(
      fc.property(
        fc.oneof(tier.map(tierPermissions), role.map(rolePermissions)),
        permissions,
        (held, wanted) => {
          const missing = missingPermissions(held, wanted);
          expect(missing.length === 0).toBe(holdsAll(held, wanted));
          for (const p of missing) expect(held.has(p) || !wanted.includes(p)).toBe(false);
        },
      ),
    );
  });
});
