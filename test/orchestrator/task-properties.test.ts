import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { AuditLog } from '../../src/audit/audit-log.ts';
import type { Actor } from '../../src/core/access.ts';
import { type NewAgent, NewAgentSchema } from '../../src/core/agent.ts';
import { ZiggieError } from '../../src/core/errors.ts';
import type { Task, TaskTransition } from '../../src/core/task.ts';
import { type AssignRequest, type TaskContext, TaskService } from '../../src/orchestrator/task-service.ts';
import { forEachDialect } from '../../src/store/test-stores.ts';
import type { Store } from '../../src/store/types.ts';

/**
 * Issue 4 §9: random sequences of TaskService operations (submit, top-level or as a subtask, to a
 * named agent, by skills or unassigned; assign; start; complete; fail; requestReview; approve;
 * reject; cancel), by random actors (the operator, agents of tiers L1-L3 of a small hierarchy, the
 * task's assignee or the agent above it, an unknown agent), on random tasks (and a bogus id), never
 * reach an illegal state. Every operation succeeds or is refused with a code expected of it (a zod
 * error only for bad input); what it did is checked against DESIGN.md's table, written out here
 * again on purpose (the test does not trust the code it checks). After every operation:
 *   - a refusal changed nothing (tasks, workloads, the audit head, the task's transitions);
 *   - a success moved the task the way the table says, and nothing else but the cancelled subtree;
 *   - (3) a final task (COMPLETED, CANCELLED, FAILED with no attempt left) did not change;
 *   - (4) each agent's workload is the number of its tasks in ASSIGNED or IN_PROGRESS;
 *   - (7) cancelling cancelled every open descendant and left the finished ones;
 *   - (8) a fresh assignment by an agent went down the tiers, never to an ancestor's assignee.
 * After every run, for each task: (1) its transitions start null → PENDING, chain legal edges and
 * end at its status; (5) attempts and rejections match the history and the bounds; (6) one audit
 * entry per transition, with its action; (7) nothing below a cancelled task is open; (8) who
 * assigned it ranked above the assignee. After all runs the audit chain verifies (6).
 */

type Status =
  | 'PENDING'
  | 'ASSIGNED'
  | 'IN_PROGRESS'
  | 'REVIEW_REQUESTED'
  | 'APPROVED'
  | 'REJECTED'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED';

/** DESIGN.md "Domain facts": the only legal transitions. */
const LEGAL: Record<Status, readonly Status[]> = {
  PENDING: ['ASSIGNED', 'CANCELLED'],
  ASSIGNED: ['IN_PROGRESS', 'CANCELLED'],
  IN_PROGRESS: ['REVIEW_REQUESTED', 'COMPLETED', 'FAILED', 'CANCELLED'],
  REVIEW_REQUESTED: ['APPROVED', 'REJECTED', 'CANCELLED'],
  APPROVED: ['COMPLETED'],
  REJECTED: ['ASSIGNED'],
  FAILED: ['ASSIGNED'],
  COMPLETED: [],
  CANCELLED: [],
};

/** docs/orchestrator.md: the audit action recorded for a move into each status. */
const ACTION: Record<Status, string> = {
  PENDING: 'TASK_CREATED',
  ASSIGNED: 'TASK_DELEGATED',
  IN_PROGRESS: 'TASK_STARTED',
  REVIEW_REQUESTED: 'TASK_REVIEW_REQUESTED',
  APPROVED: 'TASK_APPROVED',
  REJECTED: 'TASK_REJECTED',
  COMPLETED: 'TASK_COMPLETED',
  FAILED: 'TASK_FAILED',
  CANCELLED: 'TASK_CANCELLED',
};

const RANK = { L0: 0, L1: 1, L2: 2, L3: 3 } as const;
type Tier = keyof typeof RANK;

/** COMPLETED, CANCELLED, and FAILED once no attempt remains: nothing may move such a task again. */
function isFinal(task: Pick<Task, 'status' | 'attempts' | 'maxAttempts'>): boolean {
  return (
    task.status === 'COMPLETED' ||
    task.status === 'CANCELLED' ||
    (task.status === 'FAILED' && task.attempts >= task.maxAttempts)
  );
}

/** Whether the table lets a task (with its counters) move to `to`. */
function legal(task: Pick<Task, 'status' | 'attempts' | 'maxAttempts'>, to: Status): boolean {
  return !isFinal(task) && LEGAL[task.status].includes(to);
}

// ---------------------------------------------------------------------------------------------
// The hierarchy each run inserts afresh (ids prefixed by the run, so runs never share agents).

const AGENT_NAMES = ['lead', 'dev-a', 'dev-b', 'micro-1', 'micro-2', 'micro-off'] as const;
type AgentName = (typeof AGENT_NAMES)[number];
const SKILLS = ['plan', 'py', '3d'] as const;
type Skill = (typeof SKILLS)[number];

const HIERARCHY: {
  id: AgentName;
  tier: Tier;
  parent?: AgentName;
  skills: Skill[];
  capacity?: number;
  status?: string;
}[] = [
  { id: 'lead', tier: 'L1', skills: ['plan', 'py'], capacity: 3 },
  { id: 'dev-a', tier: 'L2', parent: 'lead', skills: ['py', '3d'], capacity: 2 },
  { id: 'dev-b', tier: 'L2', parent: 'lead', skills: ['py'], capacity: 2 },
  { id: 'micro-1', tier: 'L3', parent: 'dev-a', skills: ['3d'] },
  { id: 'micro-2', tier: 'L3', parent: 'dev-b', skills: ['3d', 'py'], capacity: 2 },
  { id: 'micro-off', tier: 'L3', parent: 'dev-a', skills: ['3d'], status: 'disabled' },
];
const TIER_OF = new Map(HIERARCHY.map((a) => [a.id, a.tier]));

/** How deep subtasks may nest in these runs: small, so `max_depth` is reached. */
const MAX_DEPTH = 2;

// ---------------------------------------------------------------------------------------------
// Operations, as generated data resolved against the run's state when they are applied.

/** Who acts: the operator (a user), one of the run's agents, the task's assignee or its manager, or an unknown agent. */
type ActorRef =
  | { kind: 'operator' }
  | { kind: 'agent'; name: AgentName }
  | { kind: 'assignee' }
  /** The agent above the task's assignee in the hierarchy (a reviewer who may approve). */
  | { kind: 'manager' }
  | { kind: 'ghost' };
/**
 * Which task: the n-th newest of the run's tasks, or of those the operation can apply to by the
 * table (`fit`: so that sequences get somewhere; whether it applies is still for the service to
 * say), or one that does not exist.
 */
type TaskRef = { n: number; fit: boolean } | 'bogus';
type Target =
  | { kind: 'none' }
  | { kind: 'agent'; name: AgentName | 'ghost' }
  | { kind: 'skills'; skills: Skill[]; tier?: Tier };

type Op =
  | {
      op: 'submit';
      actor: ActorRef;
      parent: TaskRef | null;
      target: Target;
      maxAttempts: number;
      idempotencyKey?: 'k1' | 'k2';
      bad: boolean;
    }
  | { op: 'assign'; actor: ActorRef; task: TaskRef; target: Exclude<Target, { kind: 'none' }> }
  | {
      op: 'start' | 'complete' | 'fail' | 'requestReview' | 'approve' | 'reject' | 'cancel';
      actor: ActorRef;
      task: TaskRef;
      bad: boolean;
      variant: boolean;
    };

/** True one time in ten (`fc.integer` is biased towards small values, so no `n === 0` here). */
const rarely = fc.oneof(
  { weight: 9, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);

const actorArb: fc.Arbitrary<ActorRef> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<ActorRef>({ kind: 'operator' }) },
  { weight: 5, arbitrary: fc.constant<ActorRef>({ kind: 'assignee' }) },
  { weight: 3, arbitrary: fc.constant<ActorRef>({ kind: 'manager' }) },
  {
    weight: 5,
    arbitrary: fc
      .constantFrom<AgentName>('lead', 'dev-a', 'dev-b', 'micro-1', 'micro-2')
      .map((name): ActorRef => ({ kind: 'agent', name })),
  },
  { weight: 1, arbitrary: fc.constant<ActorRef>({ kind: 'ghost' }) },
);
const taskRefArb: fc.Arbitrary<TaskRef> = fc.oneof(
  { weight: 15, arbitrary: fc.record({ n: fc.nat(40), fit: fc.oneof(fc.constant(true), fc.boolean()) }) },
  { weight: 1, arbitrary: fc.constant<TaskRef>('bogus') },
);
const agentTargetArb = fc
  .constantFrom<AgentName | 'ghost'>(...AGENT_NAMES, 'ghost')
  .map((name): Target => ({ kind: 'agent', name }));
const skillsTargetArb = fc
  .record(
    { skills: fc.subarray([...SKILLS]), tier: fc.constantFrom<Tier>('L1', 'L2', 'L3') },
    { requiredKeys: ['skills'] },
  )
  .map((t): Target => ({ kind: 'skills', ...t }));
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  fc.constant<Target>({ kind: 'none' }),
  agentTargetArb,
  skillsTargetArb,
);

const submitArb: fc.Arbitrary<Op> = fc
  .record({
    actor: actorArb,
    parent: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: taskRefArb }),
    target: targetArb,
    maxAttempts: fc.integer({ min: 1, max: 3 }),
    idempotencyKey: fc.constantFrom<'k1' | 'k2' | undefined>(undefined, undefined, undefined, 'k1', 'k2'),
    bad: rarely,
  })
  .map((o): Op => ({ op: 'submit', ...o }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: submitArb },
  {
    weight: 2,
    arbitrary: fc
      .record({ actor: actorArb, task: taskRefArb, target: fc.oneof(agentTargetArb, skillsTargetArb) })
      .map((o) => ({ op: 'assign', ...o }) as Op),
  },
  {
    weight: 18,
    arbitrary: fc
      .record({
        // Weighted so that tasks get far along before a cancel ends them.
        op: fc.constantFrom(
          ...(['start', 'start', 'start', 'complete', 'complete', 'fail', 'fail'] as const),
          ...([
            'requestReview',
            'requestReview',
            'approve',
            'approve',
            'reject',
            'reject',
            'cancel',
          ] as const),
        ),
        actor: actorArb,
        task: taskRefArb,
        bad: rarely,
        variant: fc.boolean(),
      })
      .map((o): Op => o),
  },
);

/** The codes each operation may be refused with (a zod error stands for bad input). */
const EXPECTED: Record<Op['op'], readonly string[]> = {
  submit: [
    'TASK_NOT_FOUND',
    'CONFLICT',
    'TASK_DELEGATION_REFUSED',
    'AGENT_NOT_FOUND',
    'TASK_ASSIGNEE_UNAVAILABLE',
  ],
  assign: [
    'TASK_NOT_FOUND',
    'TASK_TRANSITION_INVALID',
    'TASK_DELEGATION_REFUSED',
    'AGENT_NOT_FOUND',
    'TASK_ASSIGNEE_UNAVAILABLE',
  ],
  start: ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID', 'PERMISSION_DENIED'],
  complete: ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID', 'PERMISSION_DENIED'],
  fail: ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID', 'PERMISSION_DENIED'],
  requestReview: ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID', 'PERMISSION_DENIED'],
  // An unknown agent reviewing is refused as AGENT_NOT_FOUND.
  approve: ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID', 'PERMISSION_DENIED', 'AGENT_NOT_FOUND'],
  reject: ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID', 'PERMISSION_DENIED', 'AGENT_NOT_FOUND'],
  cancel: ['TASK_NOT_FOUND', 'TASK_TRANSITION_INVALID'],
};

/** The first move each operation asks of the state machine. */
const FIRST_MOVE: Record<Exclude<Op['op'], 'submit'>, Status> = {
  assign: 'ASSIGNED',
  start: 'IN_PROGRESS',
  complete: 'COMPLETED',
  fail: 'FAILED',
  requestReview: 'REVIEW_REQUESTED',
  approve: 'APPROVED',
  reject: 'REJECTED',
  cancel: 'CANCELLED',
};

function describeOp(op: Op): string {
  return JSON.stringify(op);
}

// ---------------------------------------------------------------------------------------------

/** Everything of one run that an operation may change, read in a few queries. */
interface Snapshot {
  tasks: Map<string, Task>;
  workloads: Map<string, number>;
  auditHead: number;
}

class Run {
  readonly prefix: string;
  readonly workspace: string;
  /** The run's tasks, in creation order. */
  readonly taskIds: string[] = [];
  readonly service: TaskService;
  readonly #store: Store;
  readonly log: string[] = [];

  constructor(store: Store, n: number) {
    this.#store = store;
    this.prefix = `r${n}-`;
    this.workspace = `r${n}-ws`;
    this.service = new TaskService(store, { maxDepth: MAX_DEPTH });
  }

  agentId(name: AgentName | 'ghost'): string {
    return `${this.prefix}${name}`;
  }

  tierOf(id: string): Tier | undefined {
    return id.startsWith(this.prefix) ? TIER_OF.get(id.slice(this.prefix.length) as AgentName) : undefined;
  }

  async insertAgents(): Promise<void> {
    await this.#store.agents.insert(
      HIERARCHY.map(
        (a) =>
          NewAgentSchema.parse({
            id: this.agentId(a.id),
            name: a.id,
            tier: a.tier,
            workspace: this.workspace,
            ...(a.parent ? { parent: this.agentId(a.parent) } : {}),
            skills: a.skills.map((s) => this.skill(s)),
            ...(a.capacity ? { capacity: a.capacity } : {}),
            ...(a.status ? { status: a.status } : {}),
          }) as NewAgent,
      ),
    );
  }

  skill(s: Skill): string {
    return `${this.prefix}${s}`;
  }

  async snapshot(): Promise<Snapshot> {
    const store = this.#store;
    const [tasks, agents, chain] = await Promise.all([
      store.tasks.list({ workspace: this.workspace }, { limit: 1000 }),
      store.agents.list({ workspace: this.workspace }, { limit: 100 }),
      store.audit.chainState(),
    ]);
    return {
      tasks: new Map(tasks.items.map((t) => [t.id, t])),
      workloads: new Map(agents.items.map((a) => [a.id, a.workload])),
      auditHead: chain.head.lastId,
    };
  }

  resolveTask(ref: TaskRef, op: Op['op'], snap: Snapshot): string | undefined {
    if (ref === 'bogus') return undefined;
    const fits = (id: string) => {
      const t = snap.tasks.get(id);
      return t !== undefined && (op === 'submit' ? !isFinal(t) : legal(t, FIRST_MOVE[op]));
    };
    const fitting = ref.fit ? this.taskIds.filter(fits) : [];
    const pool = fitting.length > 0 ? fitting : this.taskIds;
    // Counted from the newest: small numbers (which fast-check favours) pick recent tasks.
    return pool.length === 0 ? undefined : pool[pool.length - 1 - (ref.n % pool.length)];
  }

  resolveActor(ref: ActorRef, task: Task | undefined): TaskContext {
    const agent = (id: string): TaskContext => ({ actor: { type: 'agent', id } as Actor });
    switch (ref.kind) {
      case 'operator':
        return { actor: { type: 'user', id: 'op' }, ip: '127.0.0.1' };
      case 'agent':
        return agent(this.agentId(ref.name));
      case 'ghost':
        return agent(this.agentId('ghost'));
      case 'assignee':
        return task?.assignee ? agent(task.assignee) : { actor: { type: 'user', id: 'op' } };
      case 'manager': {
        const above = HIERARCHY.find((a) => task?.assignee === this.agentId(a.id))?.parent;
        return above ? agent(this.agentId(above)) : { actor: { type: 'user', id: 'op' } };
      }
    }
  }

  assignRequest(target: Exclude<Target, { kind: 'none' }>): AssignRequest {
    return target.kind === 'agent'
      ? { agentId: this.agentId(target.name) }
      : {
          skills: target.skills.map((s) => this.skill(s)),
          ...(target.tier ? { tier: target.tier } : {}),
        };
  }

  /** Runs one operation, then checks what it did (or that a refusal changed nothing). */
  async apply(op: Op): Promise<void> {
    const before = await this.snapshot();
    const s = this.service;
    let targetId: string | undefined;
    let bodyIsBad = false;
    let call: () => Promise<unknown>;

    if (op.op === 'submit') {
      // A subtask of the n-th task; of a task that does not exist when asked, or when there is none
      // yet, a top-level task.
      const parentId =
        op.parent === null || (op.parent !== 'bogus' && this.taskIds.length === 0)
          ? undefined
          : (this.resolveTask(op.parent, 'submit', before) ?? 'tsk_bogus');
      const parent = parentId === undefined ? undefined : before.tasks.get(parentId);
      const ctx = this.resolveActor(op.actor, parent);
      const body: Record<string, unknown> = { taskType: 'prop', maxAttempts: op.maxAttempts };
      if (parentId === undefined) body.workspace = this.workspace;
      if (parentId !== undefined) body.parentId = parentId;
      if (op.target.kind !== 'none') Object.assign(body, this.assignRequest(op.target));
      if (op.idempotencyKey) body.idempotencyKey = `${this.prefix}${op.idempotencyKey}`;
      if (op.bad) {
        // Either both agentId and skills, or no task type.
        if (op.target.kind === 'agent') body.skills = [this.skill('py')];
        else body.taskType = '';
        bodyIsBad = true;
      }
      call = () => s.submit(body, ctx);
      this.log.push(`submit ${JSON.stringify(body)} as ${JSON.stringify(ctx.actor)}`);
      return this.check(op, before, undefined, bodyIsBad, ctx, call);
    }

    targetId = this.resolveTask(op.task, op.op, before) ?? 'tsk_bogus';
    const task = before.tasks.get(targetId);
    const ctx = this.resolveActor(op.actor, task);
    if (op.op === 'assign') {
      const request = this.assignRequest(op.target);
      call = () => s.assign(targetId as string, request, ctx);
      this.log.push(`assign ${targetId} ${JSON.stringify(request)} as ${JSON.stringify(ctx.actor)}`);
      return this.check(op, before, targetId, false, ctx, call);
    }
    bodyIsBad = op.bad && op.op !== 'start';
    const id = targetId;
    switch (op.op) {
      case 'start':
        call = () => s.start(id, ctx);
        break;
      case 'complete':
        call = () =>
          s.complete(
            id,
            op.bad
              ? { usage: { inputTokens: -1 } }
              : {
                  output: 'ok',
                  ...(op.variant ? { usage: { inputTokens: 3, outputTokens: 2, cost: 0.5 } } : {}),
                },
            ctx,
          );
        break;
      case 'fail':
        call = () =>
          s.fail(id, op.bad ? {} : { error: { message: 'boom', ...(op.variant ? { code: 'E' } : {}) } }, ctx);
        break;
      case 'requestReview':
        call = () => s.requestReview(id, op.bad ? { bogus: 1 } : { output: { n: 1 } }, ctx);
        break;
      case 'approve':
        call = () => s.approve(id, op.bad ? { feedback: '' } : op.variant ? { feedback: 'fine' } : {}, ctx);
        break;
      case 'reject':
        call = () => s.reject(id, op.bad ? {} : { feedback: 'redo' }, ctx);
        break;
      case 'cancel':
        call = () => s.cancel(id, op.bad ? { reason: '' } : op.variant ? { reason: 'stop' } : {}, ctx);
        break;
    }
    this.log.push(`${op.op}${bodyIsBad ? ' (bad input)' : ''} ${id} as ${JSON.stringify(ctx.actor)}`);
    return this.check(op, before, targetId, bodyIsBad, ctx, call);
  }

  async check(
    op: Op,
    before: Snapshot,
    targetId: string | undefined,
    bodyIsBad: boolean,
    ctx: TaskContext,
    call: () => Promise<unknown>,
  ): Promise<void> {
    const pre = targetId === undefined ? undefined : before.tasks.get(targetId);
    const preTransitions = pre ? (await this.#store.tasks.transitions(pre.id)).length : 0;
    let result: unknown;
    let error: unknown;
    try {
      result = await call();
    } catch (e) {
      error = e;
    }
    const after = await this.snapshot();
    const where = `after ${describeOp(op)}\n${this.log.join('\n')}`;

    // Terminal tasks never move again, whatever happened (invariant 3).
    for (const [id, t] of before.tasks) {
      if (isFinal(t)) expect(after.tasks.get(id), `final task ${id} changed ${where}`).toEqual(t);
    }
    // Each agent's workload is the number of its tasks in ASSIGNED or IN_PROGRESS (invariant 4).
    const held = new Map<string, number>();
    for (const t of after.tasks.values()) {
      if ((t.status === 'ASSIGNED' || t.status === 'IN_PROGRESS') && t.assignee) {
        held.set(t.assignee, (held.get(t.assignee) ?? 0) + 1);
      }
    }
    for (const [agent, workload] of after.workloads) {
      expect(workload, `workload of ${agent} ${where}`).toBe(held.get(agent) ?? 0);
    }

    if (error !== undefined) {
      // A refusal: an expected code (or a zod error for bad input) …
      if (error instanceof ZodError) {
        expect(bodyIsBad, `zod error for good input ${where}: ${error.message}`).toBe(true);
      } else {
        if (!(error instanceof ZiggieError)) throw new Error(`unexpected error ${where}`, { cause: error });
        expect(EXPECTED[op.op], `${error.code} (${error.message}) ${where}`).toContain(error.code);
        if (op.op !== 'submit') {
          if (!pre) expect(error.code, where).toBe('TASK_NOT_FOUND');
          if (error.code === 'TASK_TRANSITION_INVALID') {
            expect(pre && legal(pre, FIRST_MOVE[op.op]), `refused a legal move ${where}`).toBe(false);
          }
          // The operator is bound by nothing but the state machine.
          if (pre && ctx.actor.type === 'user' && op.op !== 'assign') {
            expect(error.code, `operator refused ${error.message} ${where}`).toBe('TASK_TRANSITION_INVALID');
          }
        }
      }
      // … that changed nothing (invariant 2).
      expect(after.tasks, `a refused operation changed tasks ${where}`).toEqual(before.tasks);
      expect(after.workloads, where).toEqual(before.workloads);
      expect(after.auditHead, `a refused operation wrote audit entries ${where}`).toBe(before.auditHead);
      if (pre) expect((await this.#store.tasks.transitions(pre.id)).length, where).toBe(preTransitions);
      return;
    }

    expect(bodyIsBad, `bad input accepted ${where}`).toBe(false);
    if (op.op === 'submit') {
      const { task, created } = result as { task: Task; created: boolean };
      if (!created) {
        // The same idempotency key answers the first task and writes nothing.
        expect(before.tasks.has(task.id), where).toBe(true);
        expect(after.tasks, where).toEqual(before.tasks);
        expect(after.auditHead, where).toBe(before.auditHead);
        return;
      }
      this.taskIds.push(task.id);
      const stored = after.tasks.get(task.id);
      expect(stored, where).toEqual(task);
      expect(task.status === 'PENDING' || task.status === 'ASSIGNED', where).toBe(true);
      if (op.target.kind === 'none') expect(task.status, where).toBe('PENDING');
      if (op.target.kind === 'agent') expect(task.assignee, where).toBe(this.agentId(op.target.name));
      const parent = task.parentId === null ? undefined : before.tasks.get(task.parentId);
      if (task.parentId !== null) {
        expect(parent, `subtask of a task of another run ${where}`).toBeDefined();
        expect(parent && isFinal(parent), `subtask of a finished task ${where}`).toBe(false);
        expect(task.depth, where).toBe((parent?.depth ?? 0) + 1);
      } else {
        expect(task.depth, where).toBe(0);
      }
      expect(task.depth, where).toBeLessThanOrEqual(MAX_DEPTH);
      if (task.assignee) this.checkDelegation(task, before, ctx, where);
      this.expectOthersUnchanged(before, after, [task.id], where);
      return;
    }

    const post = after.tasks.get(targetId as string);
    expect(pre, `an operation on a missing task succeeded ${where}`).toBeDefined();
    if (!pre || !post) throw new Error(`task vanished ${where}`);
    expect(legal(pre, FIRST_MOVE[op.op]), `an illegal move was made ${where}`).toBe(true);
    expect(post.assignee === pre.assignee || pre.status === 'PENDING', `assignee changed ${where}`).toBe(
      true,
    );
    switch (op.op) {
      case 'assign':
        expect(['ASSIGNED', 'PENDING'], where).toContain(post.status);
        if (post.status === 'PENDING') expect(op.target.kind, where).toBe('skills');
        else this.checkDelegation(post, before, ctx, where);
        break;
      case 'start':
        expect(post, where).toMatchObject({ status: 'IN_PROGRESS', attempts: pre.attempts + 1 });
        break;
      case 'complete':
        expect(post.status, where).toBe('COMPLETED');
        break;
      case 'fail':
        expect(post.status, where).toBe(post.attempts >= post.maxAttempts ? 'FAILED' : 'ASSIGNED');
        expect(post.attempts, where).toBe(pre.attempts);
        break;
      case 'requestReview':
        expect(post.status, where).toBe('REVIEW_REQUESTED');
        break;
      case 'approve':
        expect(post.status, where).toBe('COMPLETED');
        expect(post.reviewer, where).toEqual(ctx.actor);
        break;
      case 'reject':
        expect(post, where).toMatchObject({ status: 'ASSIGNED', rejections: pre.rejections + 1 });
        expect(post.reviewer, where).toEqual(ctx.actor);
        break;
      case 'cancel': {
        expect(post.status, where).toBe('CANCELLED');
        // Every open descendant is cancelled too; finished ones stay (invariant 7).
        const descendants = this.descendants(pre.id, before);
        for (const id of descendants) {
          const was = before.tasks.get(id) as Task;
          const now = after.tasks.get(id);
          if (isFinal(was)) expect(now, where).toEqual(was);
          else expect(now?.status, `open descendant ${id} not cancelled ${where}`).toBe('CANCELLED');
        }
        this.expectOthersUnchanged(before, after, [pre.id, ...descendants], where);
        return;
      }
    }
    if (op.op === 'approve' || op.op === 'reject') {
      // Agents review only the work of a lower tier, never their own.
      if (ctx.actor.type === 'agent') {
        const reviewer = this.tierOf(ctx.actor.id);
        const assignee = pre.assignee ? this.tierOf(pre.assignee) : undefined;
        expect(
          reviewer && assignee && RANK[reviewer] < RANK[assignee],
          `review by ${ctx.actor.id} ${where}`,
        ).toBe(true);
      }
    }
    if (ctx.actor.type === 'agent' && ['start', 'complete', 'fail', 'requestReview'].includes(op.op)) {
      expect(ctx.actor.id, `only the assignee reports ${where}`).toBe(pre.assignee);
    }
    this.expectOthersUnchanged(before, after, [pre.id], where);
  }

  /** A fresh assignment: down the tiers when an agent delegates, never to an ancestor's assignee. */
  checkDelegation(task: Task, before: Snapshot, ctx: TaskContext, where: string): void {
    const assignee = task.assignee as string;
    const tier = this.tierOf(assignee);
    expect(tier, `assigned to an agent of another run ${where}`).toBeDefined();
    expect(assignee, `assigned to a disabled agent ${where}`).not.toBe(this.agentId('micro-off'));
    if (ctx.actor.type === 'agent') {
      const from = this.tierOf(ctx.actor.id);
      expect(
        from && tier && RANK[from] < RANK[tier],
        `${ctx.actor.id} delegated to ${assignee} ${where}`,
      ).toBe(true);
    }
    for (let p = task.parentId; p !== null; ) {
      const parent = before.tasks.get(p);
      if (!parent) break;
      expect(parent.assignee, `loop: ${assignee} already works on parent ${p} ${where}`).not.toBe(assignee);
      p = parent.parentId;
    }
  }

  descendants(id: string, snap: Snapshot): string[] {
    const out: string[] = [];
    let frontier = [id];
    while (frontier.length > 0) {
      const next = [...snap.tasks.values()].filter(
        (t) => t.parentId !== null && frontier.includes(t.parentId),
      );
      out.push(...next.map((t) => t.id));
      frontier = next.map((t) => t.id);
    }
    return out;
  }

  expectOthersUnchanged(before: Snapshot, after: Snapshot, changed: string[], where: string): void {
    for (const [id, t] of after.tasks) {
      if (changed.includes(id)) continue;
      expect(t, `task ${id} changed by an operation on another ${where}`).toEqual(before.tasks.get(id));
    }
  }

  /** The invariants over the whole history of the run's tasks. */
  async checkHistory(): Promise<void> {
    const snap = await this.snapshot();
    const where = `at the end of the run\n${this.log.join('\n')}`;
    expect([...snap.tasks.keys()].sort(), `tasks not made by a successful submit ${where}`).toEqual(
      [...this.taskIds].sort(),
    );
    for (const task of snap.tasks.values()) {
      const rows: TaskTransition[] = await this.#store.tasks.transitions(task.id);
      const at = `(task ${task.id}: ${rows.map((r) => `${r.from}>${r.to}`).join(' ')}) ${where}`;
      // (1) The first row is the creation; each next one is a legal edge from where the last left it.
      expect(rows[0], at).toMatchObject({ from: null, to: 'PENDING' });
      let attempts = 0;
      for (let i = 1; i < rows.length; i++) {
        const prev = rows[i - 1] as TaskTransition;
        const row = rows[i] as TaskTransition;
        expect(row.from, at).toBe(prev.to);
        expect(LEGAL[prev.to], `${prev.to} → ${row.to} ${at}`).toContain(row.to);
        if (prev.to === 'FAILED')
          expect(attempts, `retried with no attempt left ${at}`).toBeLessThan(task.maxAttempts);
        if (row.from === 'ASSIGNED' && row.to === 'IN_PROGRESS') attempts++;
      }
      expect(rows.at(-1)?.to, at).toBe(task.status);
      // (5) Counters agree with the history and stay within bounds.
      expect(task.attempts, at).toBe(attempts);
      expect(task.rejections, at).toBe(rows.filter((r) => r.to === 'REJECTED').length);
      // Reworks after a rejection count attempts too (see the test below), so only a task never
      // rejected is held to attempts <= maxAttempts; one rejected is held to one start per
      // assignment (the first, the retries, the reworks).
      expect(task.attempts, at).toBeLessThanOrEqual(task.maxAttempts + task.rejections);
      if (task.rejections === 0) expect(task.attempts, at).toBeLessThanOrEqual(task.maxAttempts);
      // Transient states never rest; FAILED rests only once no attempt is left.
      expect(['APPROVED', 'REJECTED'], at).not.toContain(task.status);
      if (task.status === 'FAILED') expect(task.attempts, at).toBeGreaterThanOrEqual(task.maxAttempts);
      // (6) One audit entry per transition, with the matching action.
      const audit = await this.#store.audit.list({ entityType: 'task', entityId: task.id }, { limit: 500 });
      expect(audit.items.map((e) => e.action).reverse(), at).toEqual(rows.map((r) => ACTION[r.to as Status]));
      // (8) Whoever assigned it: an agent delegates only down the tiers.
      for (const row of rows) {
        if (row.from === 'PENDING' && row.to === 'ASSIGNED' && row.actor.type === 'agent') {
          const from = this.tierOf(row.actor.id);
          const to = task.assignee ? this.tierOf(task.assignee) : undefined;
          expect(
            from && to && RANK[from] < RANK[to],
            `${row.actor.id} delegated upward or sideways ${at}`,
          ).toBe(true);
        }
      }
      // (8, as the issue puts it) A subtask an agent created and assigned goes to a lower tier.
      if (task.parentId !== null && task.creator.type === 'agent' && task.assignee) {
        const assignedBy = rows.find((r) => r.from === 'PENDING' && r.to === 'ASSIGNED')?.actor;
        if (assignedBy?.type === 'agent' && assignedBy.id === task.creator.id) {
          const from = this.tierOf(task.creator.id);
          const to = this.tierOf(task.assignee);
          expect(from && to && RANK[from] < RANK[to], at).toBe(true);
        }
      }
      // (7) Below a cancelled task nothing is open.
      if (task.status === 'CANCELLED') {
        for (const id of this.descendants(task.id, snap)) {
          expect(isFinal(snap.tasks.get(id) as Task), `open descendant ${id} of cancelled ${at}`).toBe(true);
        }
      }
    }
  }
}

let runs = 0;

async function property(store: Store, ops: Op[]): Promise<void> {
  const run = new Run(store, ++runs);
  await run.insertAgents();
  for (const op of ops) await run.apply(op);
  await run.checkHistory();
}

/** Up to 30 operations, the first few of them submits (so that the rest have tasks to work on). */
const OPS = fc
  .tuple(
    fc.array(submitArb, { minLength: 1, maxLength: 3 }),
    fc.array(opArb, { minLength: 5, maxLength: 27, size: 'max' }),
  )
  .map(([first, rest]) => [...first, ...rest]);

const silent = pino({ level: 'silent' });

describe('TaskService properties', () => {
  forEachDialect(({ dialect, store }) => {
    const numRuns = dialect === 'sqlite' ? 50 : 20;

    it(`random operation sequences never reach an illegal state (${numRuns} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(OPS, (ops) => property(store(), ops)),
        { numRuns },
      );
      // (6) The audit chain the runs wrote holds.
      const verified = await new AuditLog(store(), { retentionDays: 0 }, silent).verify();
      expect(verified.ok, JSON.stringify(verified.broken)).toBe(true);
    }, 120_000);

    // What the property found, each as its smallest case (two bugs, fixed; one design decision).
    describe('found by the property', () => {
      const operator: TaskContext = { actor: { type: 'user', id: 'op' } };
      const fresh = async () => {
        const run = new Run(store(), ++runs);
        await run.insertAgents();
        return run;
      };

      // TaskService.assign by skills when no agent fits returns the task as it is after
      // `tx.tasks.update(id, {why, updatedAt})`, without asking the state machine: on a CANCELLED
      // (or COMPLETED, ASSIGNED, IN_PROGRESS…) task it answers success instead of
      // TASK_TRANSITION_INVALID and rewrites `why` and `updatedAt` of a finished task, with no
      // transition and no audit entry (assign-task.ts, the `decision.agentId === undefined` branch).
      it('assign by skills, nobody fitting, on a cancelled task is refused and changes nothing', async () => {
        const run = await fresh();
        const { task } = await run.service.submit({ taskType: 't', workspace: run.workspace }, operator);
        const cancelled = await run.service.cancel(task.id, {}, operator);
        await expect(
          run.service.assign(task.id, { skills: ['nobody-has-this'] }, operator),
        ).rejects.toMatchObject({
          code: 'TASK_TRANSITION_INVALID',
        });
        expect(await store().tasks.get(task.id)).toEqual(cancelled);
      });

      // Design decision (docs/orchestrator.md): every start counts an attempt, a rework after a
      // rejection too; `maxAttempts` bounds the retries after failures, not the reworks (rejections
      // are counted apart). So a rework may take attempts past maxAttempts, and a failure after it
      // is final at once.
      it('a rework after a rejection counts an attempt beyond maxAttempts, and a failure after it is final', async () => {
        const run = await fresh();
        const { task } = await run.service.submit(
          { taskType: 't', workspace: run.workspace, agentId: run.agentId('dev-a'), maxAttempts: 1 },
          operator,
        );
        await run.service.start(task.id, operator);
        await run.service.requestReview(task.id, {}, operator);
        await run.service.reject(task.id, { feedback: 'redo' }, operator);
        const restarted = await run.service.start(task.id, operator);
        expect(restarted).toMatchObject({ attempts: 2, maxAttempts: 1, rejections: 1 });
        const failed = await run.service.fail(task.id, { error: { message: 'no' } }, operator);
        expect(failed.status).toBe('FAILED');
      });

      // no_loop is checked only upwards (the new task's ancestors): a PENDING parent can later be
      // assigned to the agent that already works on its subtask, which ends in the very state the
      // rule refuses the other way round (one agent on a task and on its subtask).
      it('a parent is not assigned to the agent that works on its subtask (no_loop)', async () => {
        const run = await fresh();
        const micro = run.agentId('micro-1');
        const { task: parent } = await run.service.submit(
          { taskType: 'p', workspace: run.workspace },
          operator,
        );
        await run.service.submit({ taskType: 'c', parentId: parent.id, agentId: micro }, operator);
        await expect(run.service.assign(parent.id, { agentId: micro }, operator)).rejects.toMatchObject({
          code: 'TASK_DELEGATION_REFUSED',
          details: { rule: 'no_loop' },
        });
      });
    });
  });
});
