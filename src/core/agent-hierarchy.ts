import { TIERS, type Tier, tierRank } from './policy.ts';

/**
 * The rules of the agent hierarchy, as pure functions over what is known: a tier is one of L0-L3, an
 * id is taken once, a parent exists, parents never form a cycle, and a parent ranks strictly above
 * its children (work is delegated down only: L0 > L1 > L2 > L3).
 */

/** What the rules need of an agent. `tier` is as given (it may be unknown). */
export interface HierarchyNode {
  id: string;
  tier: string;
  parent: string | null;
}

export type HierarchyProblemCode =
  | 'AGENT_TIER_UNKNOWN'
  | 'AGENT_EXISTS'
  | 'AGENT_PARENT_NOT_FOUND'
  | 'AGENT_HIERARCHY_CYCLE'
  | 'AGENT_PARENT_TIER_INVALID';

export interface HierarchyProblem {
  code: HierarchyProblemCode;
  /** The agent the problem is about. */
  id: string;
  message: string;
  details: Record<string, unknown>;
}

export interface HierarchyContext {
  /** An agent that exists already (and is not among those being written). */
  existing(id: string): HierarchyNode | undefined;
  /** Existing agents whose parent is `id` (needed when an existing agent's tier changes). */
  childrenOf?(id: string): readonly HierarchyNode[];
  /** `create`: ids must be new. `update`: the nodes replace existing agents of the same id. */
  mode: 'create' | 'update';
}

export interface HierarchyCheck {
  /** Every problem, in the order of the nodes given; empty when all may be written. */
  problems: HierarchyProblem[];
  /** The nodes in an order that writes every parent before its children. */
  order: HierarchyNode[];
}

const TIER_LIST = TIERS.join(', ');

export function isKnownTier(tier: string): tier is Tier {
  return (TIERS as readonly string[]).includes(tier);
}

/** Whether `parent` may be the parent of `child`: strictly higher tier. */
export function parentRanksAbove(parent: Tier, child: Tier): boolean {
  return tierRank(parent) < tierRank(child);
}

/**
 * Checks agents about to be written (created, or changed in `update` mode) against the rest of the
 * registry, all together: a batch may reference parents inside itself, in any order. O(n) in the
 * nodes given plus the existing agents their parent chains reach.
 */
export function checkHierarchy(nodes: readonly HierarchyNode[], context: HierarchyContext): HierarchyCheck {
  const problems: HierarchyProblem[] = [];
  const batch = new Map<string, HierarchyNode>();
  for (const node of nodes) {
    if (!isKnownTier(node.tier)) {
      problems.push({
        code: 'AGENT_TIER_UNKNOWN',
        id: node.id,
        message: `agent "${node.id}": unknown tier "${node.tier}" (tiers: ${TIER_LIST})`,
        details: { agent: node.id, tier: node.tier, tiers: TIERS },
      });
    }
    if (batch.has(node.id)) {
      problems.push(exists(node.id, `agent "${node.id}" is given twice`));
    } else if (context.mode === 'create' && context.existing(node.id)) {
      problems.push(exists(node.id, `agent "${node.id}" already exists`));
    }
    if (!batch.has(node.id)) batch.set(node.id, node);
  }
  const lookup = (id: string): HierarchyNode | undefined => batch.get(id) ?? context.existing(id);

  const cycles = findCycles([...batch.values()], lookup);
  for (const node of batch.values()) {
    if (node.parent === null) continue;
    const parent = lookup(node.parent);
    if (!parent) {
      problems.push({
        code: 'AGENT_PARENT_NOT_FOUND',
        id: node.id,
        message: `agent "${node.id}": parent "${node.parent}" does not exist`,
        details: { agent: node.id, parent: node.parent },
      });
      continue;
    }
    const cycle = cycles.get(node.id);
    if (cycle) {
      problems.push({
        code: 'AGENT_HIERARCHY_CYCLE',
        id: node.id,
        message: `agent "${node.id}": parent "${node.parent}" would make a cycle (${cycle.join(' → ')})`,
        details: { agent: node.id, parent: node.parent, cycle },
      });
      continue;
    }
    const problem = tierProblem(node, parent);
    if (problem) problems.push(problem);
  }

  // An existing agent whose tier changes must still rank above the children it keeps.
  if (context.mode === 'update' && context.childrenOf) {
    for (const node of batch.values()) {
      if (!isKnownTier(node.tier) || context.existing(node.id)?.tier === node.tier) continue;
      for (const existingChild of context.childrenOf(node.id)) {
        const child = batch.get(existingChild.id) ?? existingChild;
        if (child.parent !== node.id) continue;
        const problem = tierProblem(child, node);
        if (problem) problems.push(problem);
      }
    }
  }

  problems.sort((a, b) => indexOf(nodes, a.id) - indexOf(nodes, b.id));
  return { problems, order: parentsFirst([...batch.values()], batch) };
}

function exists(id: string, message: string): HierarchyProblem {
  return { code: 'AGENT_EXISTS', id, message, details: { agent: id } };
}

function tierProblem(child: HierarchyNode, parent: HierarchyNode): HierarchyProblem | undefined {
  if (!isKnownTier(child.tier) || !isKnownTier(parent.tier)) return undefined;
  if (parentRanksAbove(parent.tier, child.tier)) return undefined;
  const relation = parent.tier === child.tier ? 'the same tier' : 'a lower tier';
  return {
    code: 'AGENT_PARENT_TIER_INVALID',
    id: child.id,
    message: `agent "${child.id}" (${child.tier}): parent "${parent.id}" is ${parent.tier}, ${relation}; a parent must rank above its children (L0 > L1 > L2 > L3)`,
    details: { agent: child.id, tier: child.tier, parent: parent.id, parentTier: parent.tier },
  };
}

function indexOf(nodes: readonly HierarchyNode[], id: string): number {
  const at = nodes.findIndex((n) => n.id === id);
  return at < 0 ? nodes.length : at;
}

/**
 * The parent cycles the given nodes are on, each as the path from the node back to itself
 * (`a → b → a`). One walk per node that stops at anything already walked: linear overall.
 */
function findCycles(
  nodes: readonly HierarchyNode[],
  lookup: (id: string) => HierarchyNode | undefined,
): Map<string, string[]> {
  const state = new Map<string, 'walking' | 'done'>();
  const cycles = new Map<string, string[]>();
  for (const start of nodes) {
    const path: string[] = [];
    let current: HierarchyNode | undefined = start;
    while (current && !state.has(current.id)) {
      state.set(current.id, 'walking');
      path.push(current.id);
      current = current.parent === null ? undefined : lookup(current.parent);
    }
    if (current && state.get(current.id) === 'walking') {
      const members = path.slice(path.indexOf(current.id));
      members.forEach((id, i) => {
        cycles.set(id, [...members.slice(i), ...members.slice(0, i), id]);
      });
    }
    for (const id of path) state.set(id, 'done');
  }
  return cycles;
}

/** Batch nodes ordered so that a parent in the batch comes before its children (input order otherwise). */
function parentsFirst(
  nodes: readonly HierarchyNode[],
  batch: ReadonlyMap<string, HierarchyNode>,
): HierarchyNode[] {
  const placed = new Set<string>();
  const order: HierarchyNode[] = [];
  for (const node of nodes) {
    const chain: HierarchyNode[] = [];
    let current: HierarchyNode | undefined = node;
    // Up through parents in the batch that are not placed yet (a cycle stops at the repeat).
    while (current && !placed.has(current.id) && !chain.includes(current)) {
      chain.push(current);
      current = current.parent === null ? undefined : batch.get(current.parent);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const next = chain[i] as HierarchyNode;
      placed.add(next.id);
      order.push(next);
    }
  }
  return order;
}
