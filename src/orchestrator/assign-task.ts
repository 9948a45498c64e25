import type { Actor } from '../core/access.ts';
import type { Agent } from '../core/agent.ts';
import { chooseAgent } from '../core/assignment.ts';
import { checkDelegation, delegableTiers } from '../core/delegation.ts';
import { ZiggieError } from '../core/errors.ts';
import type { DelegationPolicy, Tier } from '../core/policy.ts';
import type { Task } from '../core/task.ts';
import { isTerminal } from '../core/task-states.ts';
import type { StoreTx } from '../store/types.ts';
import type { TaskContext } from './task-context.ts';
import { applyWorkloads, delegationRefused, move } from './task-moves.ts';

/** How many agents over their budget assignment by skills passes over before the task waits. */
const MAX_BUDGET_SKIPS = 5;

/** Where a task goes to get an agent: a named one, or the best by skills (and tier). */
export type AssignRequest = { agentId: string } | { skills: readonly string[]; tier?: Tier };

export interface AssignRules {
  maxDepth: number;
  policy: DelegationPolicy;
  candidateLimit: number;
  /**
   * Says why an agent may take no new task now (a budget used up), or undefined. Checked for the
   * named agent and for the one assignment by skills chose.
   */
  blocked?: (tx: StoreTx, agentId: string, task: Task) => Promise<string | undefined>;
}

/**
 * Gives a PENDING (or FAILED/REJECTED, for a retry) task an agent: a named one (checked against
 * the delegation rules), or by skills with `chooseAgent`. By skills, a task nobody can take keeps
 * its status and `why` says why. `avoid` leaves agents out (a retry after a lease expired goes to
 * another agent when there is one).
 */
export async function assignTask(
  tx: StoreTx,
  task: Task,
  request: AssignRequest,
  ctx: TaskContext,
  rules: AssignRules,
  extra: { avoid?: readonly string[]; reason?: string; notBefore?: Date | null } = {},
): Promise<Task> {
  const decision = await chooseAssignee(tx, task, request, ctx, rules, extra);
  if (decision.agentId === undefined) {
    const updated = await tx.tasks.update(task.id, { why: decision.why, updatedAt: new Date() });
    return updated ?? task;
  }
  return move(tx, task, 'ASSIGNED', ctx, extra.reason ?? decision.why, {
    assignee: decision.agentId,
    why: decision.why,
    assignedAt: new Date(),
    ...(extra.notBefore === undefined ? {} : { notBefore: extra.notBefore }),
  });
}

/** Who takes the task and why, or (by skills) why nobody does; refusals throw. Writes nothing. */
export type AssigneeDecision = { agentId: string; why: string } | { agentId?: undefined; why: string };

/**
 * The decision of `assignTask`, without writing it. `fresh`: the task is being created in this
 * transaction, so it has no subtasks to look at.
 */
export async function chooseAssignee(
  tx: StoreTx,
  task: Task,
  request: AssignRequest,
  ctx: TaskContext,
  rules: AssignRules,
  extra: { avoid?: readonly string[]; fresh?: boolean } = {},
): Promise<AssigneeDecision> {
  const from = await delegator(tx, ctx.actor);
  // no_loop both ways: not to an agent on a task above this one, nor on one of its subtasks.
  const ancestors = [
    ...(await ancestorAssignees(tx, task)),
    ...(extra.fresh ? [] : await descendantAssignees(tx, task)),
  ];
  let agentId: string;
  let why: string;
  if ('agentId' in request) {
    const agent = await tx.agents.get(request.agentId);
    checkNamedAgent(request.agentId, agent, { from, ancestors, depth: task.depth }, rules);
    const blocked = await rules.blocked?.(tx, agent.id, task);
    if (blocked) throw new ZiggieError('BUDGET_EXCEEDED', blocked, { agent: agent.id, task: task.id });
    agentId = agent.id;
    why = namedWhy(agent.id, ctx);
  } else {
    const allowed = delegableTiers(from?.tier, rules.policy);
    if (request.tier && !allowed.includes(request.tier)) {
      throw delegationRefused(
        'down_only',
        `${from?.id} (${from?.tier}) may not delegate to tier ${request.tier}: delegation goes down the tiers only`,
        { from: from?.id ?? null, tier: request.tier },
      );
    }
    const avoid = new Set([...ancestors, ...(extra.avoid ?? [])]);
    // Workloads counted earlier in this transaction are written first: the load decides.
    await applyWorkloads(tx);
    const candidates = (
      await tx.tasks.candidates({
        skills: request.skills,
        workspace: task.workspace,
        tiers: request.tier ? [request.tier] : allowed,
        limit: rules.candidateLimit,
      })
    ).filter((agent) => !avoid.has(agent.id));
    const workspace = task.workspace === null ? undefined : await tx.workspaces.get(task.workspace);
    const query = {
      requiredSkills: request.skills,
      ...(task.workspace === null ? {} : { workspace: task.workspace }),
      ...(request.tier ? { tier: request.tier } : {}),
      priority: task.priority,
      ...(workspace ? { workspacePriority: workspace.priority } : {}),
      highComplexity: task.complexity === 'high',
      milestone: task.milestone,
    };
    // The best agent over its budget is passed over for the next best, a few times at most (each
    // check is a query); when every one tried is blocked, the task waits and `why` names the budget.
    let pool = candidates;
    let decision = chooseAgent(query, pool);
    let blocked: string | undefined;
    for (let tries = 0; decision.agentId !== undefined && tries < MAX_BUDGET_SKIPS; tries++) {
      blocked = await rules.blocked?.(tx, decision.agentId, task);
      if (!blocked) break;
      const skipped = decision.agentId;
      pool = pool.filter((agent) => agent.id !== skipped);
      decision = chooseAgent(query, pool);
    }
    if (decision.agentId === undefined || blocked) return { why: blocked ?? decision.why };
    agentId = decision.agentId;
    why = decision.why;
  }
  return { agentId, why };
}

/**
 * May the task go to this named agent? Refuses with AGENT_NOT_FOUND, TASK_ASSIGNEE_UNAVAILABLE or
 * TASK_DELEGATION_REFUSED (the rule in `details.rule`). Budgets are checked apart (a query).
 */
export function checkNamedAgent(
  agentId: string,
  agent: Agent | undefined,
  position: { from: { id: string; tier: Tier } | undefined; ancestors: readonly string[]; depth: number },
  rules: AssignRules,
): asserts agent is Agent {
  if (!agent) {
    throw new ZiggieError('AGENT_NOT_FOUND', `no agent with id "${agentId}"`, { agent: agentId });
  }
  if (agent.status === 'disabled' || agent.status === 'offline') {
    throw new ZiggieError(
      'TASK_ASSIGNEE_UNAVAILABLE',
      `agent ${agent.id} is ${agent.status} and takes no tasks`,
      {
        agent: agent.id,
        status: agent.status,
      },
    );
  }
  const problem = checkDelegation({
    from: position.from,
    to: { id: agent.id, tier: agent.tier },
    ancestorAssignees: position.ancestors,
    depth: position.depth,
    maxDepth: rules.maxDepth,
    policy: rules.policy,
  });
  if (problem) {
    throw delegationRefused(problem.rule, problem.message, { from: position.from?.id ?? null, to: agent.id });
  }
}

/** Why a named agent was chosen. */
export function namedWhy(agentId: string, ctx: TaskContext): string {
  return `${agentId}: named by ${ctx.actor.type} ${ctx.actor.id}`;
}

/** The delegating agent's id and tier; undefined for users, keys and Ziggie (they may delegate to anyone). */
export async function delegator(tx: StoreTx, actor: Actor): Promise<{ id: string; tier: Tier } | undefined> {
  if (actor.type !== 'agent') return undefined;
  const agent = await tx.agents.get(actor.id);
  if (!agent) throw new ZiggieError('AGENT_NOT_FOUND', `no agent with id "${actor.id}"`, { agent: actor.id });
  return { id: agent.id, tier: agent.tier };
}

/** Assignees of the task's open subtasks, at any depth. */
async function descendantAssignees(tx: StoreTx, task: Task): Promise<string[]> {
  const out: string[] = [];
  let frontier = [task.id];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const child of await tx.tasks.children(id)) {
        next.push(child.id);
        if (child.assignee && !isTerminal(child)) out.push(child.assignee);
      }
    }
    frontier = next;
  }
  return out;
}

/** Assignees of the task's parent and its ancestors, nearest first. */
async function ancestorAssignees(tx: StoreTx, task: Task): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  let parentId = task.parentId;
  while (parentId !== null && !seen.has(parentId)) {
    seen.add(parentId);
    const parent = await tx.tasks.get(parentId);
    if (!parent) break;
    if (parent.assignee) out.push(parent.assignee);
    parentId = parent.parentId;
  }
  return out;
}
