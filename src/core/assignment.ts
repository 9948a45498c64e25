/**
 * Skill- and load-based assignment (issue 4 §3), as pure decisions: which available agent takes a
 * task and why, and in which order waiting tasks are served when capacity is short.
 */

export type TaskPriority = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export type WorkspacePriority = 'P0' | 'P1' | 'P2';
export type AgentTier = 'L0' | 'L1' | 'L2' | 'L3';

/** What assignment needs to know about an agent. */
export interface CandidateAgent {
  id: string;
  tier: AgentTier;
  /** e.g. `BMAD`, `Elite-Art`; Elite agents are kept for P0, high-complexity or milestone work. */
  team?: string;
  workspace?: string;
  skills: readonly string[];
  status: 'idle' | 'assigned' | 'working' | 'blocked' | 'offline' | 'disabled';
  capacity: number;
  workload: number;
}

/** What assignment needs to know about a task. */
export interface TaskToAssign {
  requiredSkills: readonly string[];
  workspace?: string;
  /** Only agents of this tier, when given. */
  tier?: AgentTier;
  priority: TaskPriority;
  workspacePriority?: WorkspacePriority;
  /** High complexity or a milestone: Elite agents are considered (for P0 work). */
  highComplexity?: boolean;
  milestone?: boolean;
}

export type AssignmentDecision = { agentId: string; why: string } | { agentId: undefined; why: string };

const AVAILABLE = new Set<CandidateAgent['status']>(['idle', 'assigned', 'working']);

function isElite(agent: CandidateAgent): boolean {
  return agent.team?.toLowerCase().startsWith('elite') ?? false;
}

/** Elite agents are called in for P0 work that is high-complexity or a milestone, or CRITICAL tasks. */
export function eliteEligible(task: TaskToAssign): boolean {
  const p0 = task.workspacePriority === 'P0' || task.priority === 'CRITICAL';
  return p0 && (task.highComplexity === true || task.milestone === true || task.priority === 'CRITICAL');
}

/**
 * Picks the agent for `task`: among available agents of the task's workspace (and tier, when
 * given) with spare capacity, best skill match first (every required skill present ranks above
 * partial matches), then the lowest workload relative to capacity, then the id for a stable
 * order. The decision says why, including why nobody was chosen.
 */
export function chooseAgent(task: TaskToAssign, agents: readonly CandidateAgent[]): AssignmentDecision {
  const elite = eliteEligible(task);
  const pool = agents.filter(
    (a) =>
      AVAILABLE.has(a.status) &&
      (task.workspace === undefined || a.workspace === undefined || a.workspace === task.workspace) &&
      (task.tier === undefined || a.tier === task.tier) &&
      (elite || !isElite(a)),
  );
  if (pool.length === 0) {
    return { agentId: undefined, why: `no available agent${describeFilter(task)}` };
  }
  const withRoom = pool.filter((a) => a.workload < a.capacity);
  if (withRoom.length === 0) {
    return { agentId: undefined, why: `all ${pool.length} matching agents are at capacity` };
  }
  const required = new Set(task.requiredSkills);
  const scored = withRoom
    .map((agent) => {
      const matched = agent.skills.filter((s) => required.has(s)).length;
      return { agent, matched, load: agent.workload / Math.max(agent.capacity, 1) };
    })
    .filter((c) => required.size === 0 || c.matched > 0)
    .sort((a, b) => b.matched - a.matched || a.load - b.load || a.agent.id.localeCompare(b.agent.id));
  const best = scored[0];
  if (!best) {
    return {
      agentId: undefined,
      why: `no available agent has any of the skills ${[...required].join(', ')}`,
    };
  }
  const skills =
    required.size === 0 ? 'no skills required' : `${best.matched}/${required.size} required skills`;
  const load = `load ${best.agent.workload}/${best.agent.capacity}`;
  return {
    agentId: best.agent.id,
    why: `${best.agent.id}: ${skills}, ${load}${isElite(best.agent) ? ', Elite (P0 high-complexity work)' : ''}`,
  };
}

function describeFilter(task: TaskToAssign): string {
  const parts = [
    task.workspace ? `in workspace ${task.workspace}` : '',
    task.tier ? `of tier ${task.tier}` : '',
  ].filter(Boolean);
  return parts.length ? ` ${parts.join(' ')}` : '';
}

const WORKSPACE_RANK: Record<WorkspacePriority, number> = { P0: 0, P1: 1, P2: 2 };
const TASK_RANK: Record<TaskPriority, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };

/** Waiting tasks in the order they are served: P0 workspaces before P1 before P2, then priority, then age. */
export function compareForService(
  a: Pick<TaskToAssign, 'priority' | 'workspacePriority'> & { createdAt: number },
  b: Pick<TaskToAssign, 'priority' | 'workspacePriority'> & { createdAt: number },
): number {
  return (
    WORKSPACE_RANK[a.workspacePriority ?? 'P2'] - WORKSPACE_RANK[b.workspacePriority ?? 'P2'] ||
    TASK_RANK[a.priority] - TASK_RANK[b.priority] ||
    a.createdAt - b.createdAt
  );
}
