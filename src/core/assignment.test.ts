import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CandidateAgent, chooseAgent, compareForService, type TaskToAssign } from './assignment.ts';

const agent = (id: string, over: Partial<CandidateAgent> = {}): CandidateAgent => ({
  id,
  tier: 'L3',
  workspace: 'fitflow',
  skills: [],
  status: 'idle',
  capacity: 2,
  workload: 0,
  ...over,
});
const task = (over: Partial<TaskToAssign> = {}): TaskToAssign => ({
  requiredSkills: [],
  workspace: 'fitflow',
  priority: 'MEDIUM',
  ...over,
});

describe('chooseAgent', () => {
  it('prefers the best skill match, then the lowest relative load', () => {
    const agents = [
      agent('partial', { skills: ['react'] }),
      agent('full-busy', { skills: ['react', 'e2e'], workload: 1, capacity: 2 }),
      agent('full-idle', { skills: ['react', 'e2e'], workload: 1, capacity: 4 }),
    ];
    const decision = chooseAgent(task({ requiredSkills: ['react', 'e2e'] }), agents);
    expect(decision).toEqual({ agentId: 'full-idle', why: 'full-idle: 2/2 required skills, load 1/4' });
  });

  it('skips agents that are offline, disabled, blocked, at capacity, in another workspace or tier', () => {
    const agents = [
      agent('offline', { status: 'offline' }),
      agent('disabled', { status: 'disabled' }),
      agent('blocked', { status: 'blocked' }),
      agent('full', { workload: 2 }),
      agent('elsewhere', { workspace: 'other' }),
      agent('lead', { tier: 'L1' }),
      agent('ok'),
    ];
    expect(chooseAgent(task({ tier: 'L3' }), agents).agentId).toBe('ok');
  });

  it('says why nobody was chosen', () => {
    expect(chooseAgent(task(), []).why).toBe('no available agent in workspace fitflow');
    expect(chooseAgent(task(), [agent('a', { workload: 2 })]).why).toBe(
      'all 1 matching agents are at capacity',
    );
    expect(chooseAgent(task({ requiredSkills: ['rust'] }), [agent('a', { skills: ['go'] })]).why).toBe(
      'no available agent has any of the skills rust',
    );
  });

  it('keeps Elite agents for P0 high-complexity or milestone work', () => {
    const agents = [agent('VULCAN', { team: 'Elite-Technical', skills: ['rendering'] })];
    const routine = task({ requiredSkills: ['rendering'], workspacePriority: 'P0' });
    expect(chooseAgent(routine, agents).agentId).toBeUndefined();
    expect(chooseAgent({ ...routine, highComplexity: true }, agents).agentId).toBe('VULCAN');
    expect(chooseAgent({ ...routine, milestone: true }, agents).why).toContain('Elite');
    expect(
      chooseAgent({ ...routine, workspacePriority: 'P1', milestone: true }, agents).agentId,
    ).toBeUndefined();
  });

  it('always picks an eligible agent with room when one exists (property)', () => {
    const arbAgent = fc.record({
      id: fc.uuid(),
      tier: fc.constantFrom('L1', 'L2', 'L3' as const),
      workspace: fc.constantFrom('a', 'b'),
      skills: fc.subarray(['x', 'y', 'z']),
      status: fc.constantFrom('idle', 'working', 'offline' as const),
      capacity: fc.integer({ min: 1, max: 4 }),
      workload: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(arbAgent, { maxLength: 12 }), fc.subarray(['x', 'y', 'z']), (agents, skills) => {
        const t = task({ workspace: 'a', requiredSkills: skills });
        const decision = chooseAgent(t, agents);
        const eligible = agents.filter(
          (a) =>
            a.status !== 'offline' &&
            a.workspace === 'a' &&
            a.workload < a.capacity &&
            (skills.length === 0 || a.skills.some((s) => skills.includes(s))),
        );
        if (eligible.length === 0) return decision.agentId === undefined;
        const chosen = eligible.find((a) => a.id === decision.agentId);
        if (!chosen) return false;
        const matched = (a: (typeof agents)[number]) => a.skills.filter((s) => skills.includes(s)).length;
        return eligible.every((a) => matched(a) <= matched(chosen));
      }),
    );
  });
});

describe('compareForService', () => {
  it('serves P0 workspaces before P1 before P2, then by priority, then oldest first', () => {
    const waiting = [
      { id: 'p2-critical', workspacePriority: 'P2' as const, priority: 'CRITICAL' as const, createdAt: 1 },
      { id: 'p0-low', workspacePriority: 'P0' as const, priority: 'LOW' as const, createdAt: 5 },
      { id: 'p1-high-new', workspacePriority: 'P1' as const, priority: 'HIGH' as const, createdAt: 9 },
      { id: 'p1-high-old', workspacePriority: 'P1' as const, priority: 'HIGH' as const, createdAt: 2 },
      { id: 'p1-low', workspacePriority: 'P1' as const, priority: 'LOW' as const, createdAt: 0 },
    ];
    expect(waiting.sort(compareForService).map((t) => t.id)).toEqual([
      'p0-low',
      'p1-high-old',
      'p1-high-new',
      'p1-low',
      'p2-critical',
    ]);
  });
});
