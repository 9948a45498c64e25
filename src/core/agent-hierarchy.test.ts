import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkHierarchy,
  type HierarchyContext,
  type HierarchyNode,
  parentRanksAbove,
} from './agent-hierarchy.ts';
import { TIERS } from './policy.ts';

const node = (id: string, tier: string, parent: string | null = null): HierarchyNode => ({
  id,
  tier,
  parent,
});

function context(existing: HierarchyNode[] = [], mode: 'create' | 'update' = 'create'): HierarchyContext {
  const byId = new Map(existing.map((n) => [n.id, n]));
  return {
    mode,
    existing: (id) => byId.get(id),
    childrenOf: (id) => existing.filter((n) => n.parent === id),
  };
}

const codes = (nodes: HierarchyNode[], ctx = context()) =>
  checkHierarchy(nodes, ctx).problems.map((p) => p.code);

describe('parent tiers', () => {
  it.each(
    TIERS.flatMap((parent) =>
      TIERS.map((child) => [parent, child, TIERS.indexOf(parent) < TIERS.indexOf(child)] as const),
    ),
  )('parent %s over child %s: allowed %s', (parent, child, allowed) => {
    expect(parentRanksAbove(parent, child)).toBe(allowed);
    const problems = checkHierarchy([node('p', parent), node('c', child, 'p')], context()).problems;
    expect(problems.map((p) => p.code)).toEqual(allowed ? [] : ['AGENT_PARENT_TIER_INVALID']);
  });

  it('says which agent, which parent and why', () => {
    const [problem] = checkHierarchy([node('lead', 'L2'), node('boss', 'L1', 'lead')], context()).problems;
    expect(problem).toEqual({
      code: 'AGENT_PARENT_TIER_INVALID',
      id: 'boss',
      message:
        'agent "boss" (L1): parent "lead" is L2, a lower tier; a parent must rank above its children (L0 > L1 > L2 > L3)',
      details: { agent: 'boss', tier: 'L1', parent: 'lead', parentTier: 'L2' },
    });
    const [same] = checkHierarchy([node('a', 'L2'), node('b', 'L2', 'a')], context()).problems;
    expect(same?.message).toContain('is L2, the same tier');
  });
});

describe('checkHierarchy', () => {
  it('accepts a valid batch with parents given after their children, and orders parents first', () => {
    const nodes = [
      node('l3', 'L3', 'l2'),
      node('l2', 'L2', 'l1'),
      node('l1', 'L1', 'root'),
      node('root', 'L0'),
    ];
    const check = checkHierarchy(nodes, context());
    expect(check.problems).toEqual([]);
    expect(check.order.map((n) => n.id)).toEqual(['root', 'l1', 'l2', 'l3']);
  });

  it('accepts parents that exist already', () => {
    expect(codes([node('x', 'L3', 'lead')], context([node('lead', 'L2')]))).toEqual([]);
  });

  it('refuses an unknown tier, naming the agent and the tiers', () => {
    const [problem] = checkHierarchy([node('x', 'L4')], context()).problems;
    expect(problem).toMatchObject({
      code: 'AGENT_TIER_UNKNOWN',
      message: 'agent "x": unknown tier "L4" (tiers: L0, L1, L2, L3)',
    });
    expect(codes([node('x', 'l1')])).toEqual(['AGENT_TIER_UNKNOWN']);
    expect(codes([node('x', '')])).toEqual(['AGENT_TIER_UNKNOWN']);
  });

  it('refuses a duplicate id: existing, or twice in one batch (create only)', () => {
    expect(checkHierarchy([node('x', 'L1')], context([node('x', 'L1')])).problems[0]?.message).toBe(
      'agent "x" already exists',
    );
    expect(checkHierarchy([node('x', 'L1'), node('x', 'L2')], context()).problems[0]?.message).toBe(
      'agent "x" is given twice',
    );
    expect(codes([node('x', 'L2')], context([node('x', 'L1')], 'update'))).toEqual([]);
  });

  it('refuses a parent that does not exist', () => {
    const [problem] = checkHierarchy([node('x', 'L3', 'ghost')], context()).problems;
    expect(problem).toMatchObject({
      code: 'AGENT_PARENT_NOT_FOUND',
      message: 'agent "x": parent "ghost" does not exist',
    });
  });

  it('refuses an agent that is its own parent', () => {
    const [problem] = checkHierarchy([node('x', 'L1', 'x')], context()).problems;
    expect(problem).toMatchObject({
      code: 'AGENT_HIERARCHY_CYCLE',
      message: 'agent "x": parent "x" would make a cycle (x → x)',
      details: { cycle: ['x', 'x'] },
    });
  });

  it('refuses a cycle within a batch, reported before the tier problem it also is', () => {
    const problems = checkHierarchy([node('a', 'L1', 'b'), node('b', 'L2', 'a')], context()).problems;
    expect(problems.map((p) => [p.code, p.id])).toEqual([
      ['AGENT_HIERARCHY_CYCLE', 'a'],
      ['AGENT_HIERARCHY_CYCLE', 'b'],
    ]);
    expect(problems[0]?.message).toBe('agent "a": parent "b" would make a cycle (a → b → a)');
  });

  it('refuses a re-parenting that closes a cycle through existing agents', () => {
    const existing = [node('top', 'L1', null), node('mid', 'L2', 'top'), node('low', 'L3', 'mid')];
    const [problem] = checkHierarchy([node('top', 'L1', 'low')], context(existing, 'update')).problems;
    expect(problem).toMatchObject({
      code: 'AGENT_HIERARCHY_CYCLE',
      id: 'top',
      message: 'agent "top": parent "low" would make a cycle (top → low → mid → top)',
    });
  });

  it('refuses a tier change that puts an agent at or below a child it keeps', () => {
    const existing = [node('lead', 'L1'), node('worker', 'L2', 'lead')];
    const [problem] = checkHierarchy([node('lead', 'L2')], context(existing, 'update')).problems;
    expect(problem).toMatchObject({ code: 'AGENT_PARENT_TIER_INVALID', id: 'worker' });
    // …unless the child moves in the same batch.
    expect(codes([node('lead', 'L2'), node('worker', 'L3', 'lead')], context(existing, 'update'))).toEqual(
      [],
    );
  });

  it('lists every problem in the order the agents were given', () => {
    const problems = checkHierarchy(
      [node('a', 'L9'), node('b', 'L3', 'nobody'), node('c', 'L1'), node('c', 'L1')],
      context(),
    ).problems;
    expect(problems.map((p) => [p.code, p.id])).toEqual([
      ['AGENT_TIER_UNKNOWN', 'a'],
      ['AGENT_PARENT_NOT_FOUND', 'b'],
      ['AGENT_EXISTS', 'c'],
    ]);
  });
});

/** A random batch: ids n0…nk, random tiers (sometimes unknown) and random parents (sometimes missing). */
const batch = fc.integer({ min: 1, max: 25 }).chain((n) =>
  fc.array(
    fc.record({
      tier: fc.constantFrom('L0', 'L1', 'L2', 'L3', 'L3', 'L2', 'X'),
      parent: fc.option(fc.integer({ min: 0, max: n }), { nil: null }),
    }),
    { minLength: n, maxLength: n },
  ),
);

describe('checkHierarchy properties', () => {
  it('finds a cycle exactly when following parents from an agent comes back to it', () => {
    fc.assert(
      fc.property(batch, (specs) => {
        const nodes = specs.map((s, i) => node(`n${i}`, s.tier, s.parent === null ? null : `n${s.parent}`));
        const byId = new Map(nodes.map((n) => [n.id, n]));
        const check = checkHierarchy(nodes, context());
        for (const n of nodes) {
          // Brute force: walk at most n steps.
          let onCycle = false;
          let current = n.parent === null ? undefined : byId.get(n.parent);
          for (let step = 0; current && step <= nodes.length; step++) {
            if (current.id === n.id) {
              onCycle = true;
              break;
            }
            current = current.parent === null ? undefined : byId.get(current.parent);
          }
          const reported = check.problems.some((p) => p.id === n.id && p.code === 'AGENT_HIERARCHY_CYCLE');
          if (reported !== onCycle) return false;
        }
        return true;
      }),
    );
  });

  it('a batch without problems has every parent ranked above its child, and is ordered parents first', () => {
    fc.assert(
      fc.property(batch, (specs) => {
        const nodes = specs.map((s, i) => node(`n${i}`, s.tier, s.parent === null ? null : `n${s.parent}`));
        const check = checkHierarchy(nodes, context());
        const byId = new Map(nodes.map((n) => [n.id, n]));
        const edgesOk = nodes.every((n) => {
          const parent = n.parent === null ? undefined : byId.get(n.parent);
          return (
            TIERS.includes(n.tier as never) &&
            (n.parent === null ||
              (parent !== undefined &&
                TIERS.indexOf(parent.tier as never) >= 0 &&
                TIERS.indexOf(parent.tier as never) < TIERS.indexOf(n.tier as never)))
          );
        });
        if ((check.problems.length === 0) !== edgesOk) return false;
        // The order always holds each node once, parents (in the batch) before children when acyclic.
        if (check.order.length !== nodes.length) return false;
        if (check.problems.length > 0) return true;
        const position = new Map(check.order.map((n, i) => [n.id, i]));
        return nodes.every(
          (n) => n.parent === null || (position.get(n.parent) ?? -1) < (position.get(n.id) ?? -1),
        );
      }),
    );
  });
});
