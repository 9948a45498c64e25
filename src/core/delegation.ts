import { canDelegate, type DelegationPolicy, type Tier, tierRank } from './policy.ts';

/**
 * Who may hand a task to whom (issue 4 §2), as a pure decision: down the tiers only (L1 → L2 → L3;
 * L0 and users to anyone), never to an agent already working on the chain of parent tasks (a loop),
 * never deeper than the configured depth.
 */

/** The rules, each named in the refusal (`details.rule`). */
export type DelegationRule = 'down_only' | 'no_loop' | 'max_depth';

export interface DelegationRequest {
  /** The creator's tier; undefined for users and Ziggie itself (they may hand work to anyone). */
  from: { id: string; tier: Tier } | undefined;
  to: { id: string; tier: Tier };
  /** Assignees of the parent task and its ancestors, nearest first (empty for a top-level task). */
  ancestorAssignees: readonly string[];
  /** The depth the new task would have (0: top level). */
  depth: number;
  maxDepth: number;
  policy?: DelegationPolicy;
}

export type DelegationProblem = { rule: DelegationRule; message: string } | undefined;

/** The first rule the request breaks, with a message naming it; undefined when it may go ahead. */
export function checkDelegation(request: DelegationRequest): DelegationProblem {
  const { from, to } = request;
  if (from && !canDelegate(from.tier, to.tier, request.policy)) {
    const direction =
      from.tier === to.tier ? 'sideways' : tierRank(to.tier) < tierRank(from.tier) ? 'upward' : 'down';
    return {
      rule: 'down_only',
      message: `${from.id} (${from.tier}) may not delegate to ${to.id} (${to.tier}): delegation goes down the tiers only (L0 → L1 → L2 → L3), never ${direction}`,
    };
  }
  if (request.ancestorAssignees.includes(to.id)) {
    return {
      rule: 'no_loop',
      message: `${to.id} already works on a parent of this task: delegating back to it would make a loop`,
    };
  }
  if (request.depth > request.maxDepth) {
    return {
      rule: 'max_depth',
      message: `a subtask at depth ${request.depth} is deeper than the allowed ${request.maxDepth} levels of delegation`,
    };
  }
  return undefined;
}

/** The tiers an agent of `from` may hand work to (every tier for users and Ziggie). */
export function delegableTiers(from: Tier | undefined, policy?: DelegationPolicy): Tier[] {
  const all: Tier[] = ['L0', 'L1', 'L2', 'L3'];
  return from === undefined ? all : all.filter((to) => canDelegate(from, to, policy));
}
