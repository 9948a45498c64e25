import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDelegation, delegableTiers } from './delegation.ts';
import { TIERS, type Tier } from './policy.ts';

const base = { ancestorAssignees: [], depth: 1, maxDepth: 3 };

describe('delegation rules', () => {
  it('goes down the tiers only, naming the direction it refuses', () => {
    for (const from of TIERS) {
      for (const to of TIERS) {
        const problem = checkDelegation({
          ...base,
          from: { id: 'a', tier: from },
          to: { id: 'b', tier: to },
        });
        const down = TIERS.indexOf(to) > TIERS.indexOf(from);
        expect(problem === undefined, `${from} → ${to}`).toBe(down);
        if (!down) {
          expect(problem?.rule).toBe('down_only');
          expect(problem?.message).toContain(from === to ? 'never sideways' : 'never upward');
        }
      }
    }
  });

  it('lets users and Ziggie hand work to any tier, and sideways only under a policy', () => {
    for (const to of TIERS)
      expect(checkDelegation({ ...base, from: undefined, to: { id: 'b', tier: to } })).toBe(undefined);
    expect(
      checkDelegation({
        ...base,
        from: { id: 'a', tier: 'L2' },
        to: { id: 'b', tier: 'L2' },
        policy: { sideways: true },
      }),
    ).toBe(undefined);
  });

  it('refuses a loop back to an agent working on a parent task, and nesting past the maximum depth', () => {
    const to = { id: 'l3', tier: 'L3' as Tier };
    expect(
      checkDelegation({ ...base, from: { id: 'l2', tier: 'L2' }, to, ancestorAssignees: ['x', 'l3'] }),
    ).toMatchObject({
      rule: 'no_loop',
      message: expect.stringContaining('l3 already works on a parent'),
    });
    expect(checkDelegation({ ...base, from: undefined, to, depth: 4 })).toMatchObject({
      rule: 'max_depth',
      message: 'a subtask at depth 4 is deeper than the allowed 3 levels of delegation',
    });
  });

  it('lists the tiers below (none for L3, all for users), consistent with checkDelegation', () => {
    expect(delegableTiers('L3')).toEqual([]);
    expect(delegableTiers('L1')).toEqual(['L2', 'L3']);
    expect(delegableTiers(undefined)).toEqual(['L0', 'L1', 'L2', 'L3']);
    fc.assert(
      fc.property(
        fc.constantFrom(...TIERS),
        fc.constantFrom(...TIERS),
        fc.boolean(),
        (from, to, sideways) => {
          const allowed = delegableTiers(from, { sideways }).includes(to);
          const problem = checkDelegation({
            ...base,
            from: { id: 'a', tier: from },
            to: { id: 'b', tier: to },
            policy: { sideways },
          });
          return allowed === (problem === undefined);
        },
      ),
    );
  });
});
