import type { Actor } from '../core/access.ts';
import type { CandidateAgent } from '../core/assignment.ts';
import type { NewAuditEntry } from '../core/audit.ts';
import type { Tier } from '../core/policy.ts';
import type { Task, TaskLogLine, TaskTransition } from '../core/task.ts';
import type { Page } from './cursor.ts';

/** The task repository's port (see task-repo.ts), with the shapes it reads and writes. */

/** Which tasks a listing covers; every given field must match. */
export interface TaskFilter {
  status?: string;
  workspace?: string;
  assignee?: string;
  parentId?: string;
}

/** How `TaskRepo.usage` groups tasks: by assignee, by the assignee's team, or by workspace. */
export type UsageGroupBy = 'agent' | 'team' | 'workspace';

/** Which tasks a usage rollup covers: created at or after `from` and before `to`, of `workspace`. */
export interface UsageQuery {
  groupBy: UsageGroupBy;
  from?: Date;
  to?: Date;
  workspace?: string;
}

/** An attempt an agent reported done: its output and the usage to add. */
export interface CompletedAttempt {
  id: string;
  output: unknown;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** One group of a usage rollup; every figure counts a task's own usage only (not its subtasks'). */
export interface UsageGroup {
  /** The agent id, team or workspace; null for tasks without one (never assigned, no team, no workspace). */
  key: string | null;
  tasks: number;
  completed: number;
  /** Tasks whose status is FAILED now (a failure that was retried counts where the retry ended). */
  failed: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  /** Sum of the tasks' `durationMs` (tasks that never ran have none). */
  durationMs: number;
  /** Average `durationMs` of the tasks that have one; null when none has. */
  avgDurationMs: number | null;
}

/** What tasks used so far: cost and input + output tokens. */
export interface UsageTotals {
  cost: number;
  tokens: number;
}

/** Agents with work in hand (workload > 0), counted per tier and workspace. */
export interface ActiveAgentCount {
  tier: Tier;
  workspace: string | null;
  count: number;
}

/** The assignment a task is created with (the service decided it in the same transaction). */
export interface TaskAssignment {
  assignee?: string;
  why: string;
  /** With an assignee: the task starts its first attempt at once, under this lease (direct dispatch). */
  lease?: { owner: string; expiresAt: Date };
}

/** A new task as the service builds it (every field of `Task` but the counters and later times). */
export type NewTask = Pick<
  Task,
  | 'id'
  | 'taskType'
  | 'priority'
  | 'workspace'
  | 'creator'
  | 'parentId'
  | 'depth'
  | 'requiredSkills'
  | 'input'
  | 'maxAttempts'
  | 'idempotencyKey'
  | 'deadline'
  | 'createdAt'
  | 'childPolicy'
  | 'complexity'
  | 'milestone'
  | 'tier'
>;

/** What a change of a task writes: the fields given, nothing else (`updatedAt` always). */
export type TaskUpdate = Partial<
  Pick<
    Task,
    | 'status'
    | 'assignee'
    | 'reviewer'
    | 'output'
    | 'error'
    | 'reviewFeedback'
    | 'attempts'
    | 'maxAttempts'
    | 'rejections'
    | 'assignedAt'
    | 'startedAt'
    | 'reviewRequestedAt'
    | 'reviewedAt'
    | 'completedAt'
    | 'durationMs'
    | 'inputTokens'
    | 'outputTokens'
    | 'cost'
    | 'why'
    | 'leaseOwner'
    | 'leaseExpiresAt'
    | 'notBefore'
    | 'awaitingChildren'
  >
> & { updatedAt: Date };

/** Orchestrator tasks and their transitions (see task-repo.ts). */
export interface TaskRepo {
  /**
   * Inserts a task with zero counters: PENDING, or ASSIGNED (since its creation) when `assignment`
   * names the assignee; `why` either way.
   */
  insert(task: NewTask, assignment?: TaskAssignment): Promise<Task>;
  /**
   * `insert` of many tasks, in a few statements. `withMoves`: the transaction ends with
   * `writeMoves` and reads no task before it (a submit alone in its transaction); the rows may then
   * be written in its statement (PostgreSQL: one round trip less).
   */
  insertMany(
    items: ReadonlyArray<{ task: NewTask; assignment?: TaskAssignment }>,
    options?: { withMoves?: boolean },
  ): Promise<Task[]>;
  /** The tasks among `ids` that exist (in no order); `forUpdate` holds them (PostgreSQL row locks). */
  getMany(ids: readonly string[], options?: { forUpdate?: boolean }): Promise<Task[]>;
  get(id: string): Promise<Task | undefined>;
  /** `get`, holding the row until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite's write lock). */
  getForUpdate(id: string): Promise<Task | undefined>;
  /** The task `creator` submitted with `key`. */
  findByIdempotencyKey(creator: Actor, key: string): Promise<Task | undefined>;
  /** Serializes submits of one (creator, key) across nodes until the transaction ends. */
  lockIdempotencyKey(creator: Actor, key: string): Promise<void>;
  /** Undefined when there is no such task. */
  update(id: string, changes: TaskUpdate): Promise<Task | undefined>;
  /**
   * `update` of a task the caller holds as it is stored (locked, or just written): the row is not
   * read back, the answer is `task` with `changes` applied. Undefined when there is no such task.
   */
  write(task: Task, changes: TaskUpdate): Promise<Task | undefined>;
  appendTransitions(transitions: readonly TaskTransition[]): Promise<void>;
  /**
   * The end of a task transaction: `adjustWorkloads` (agents in the map's order),
   * `appendTransitions` and the audit entries, appended last (their head row locked after every
   * other row). On PostgreSQL in one statement when the store knows where the audit head is.
   */
  writeMoves(
    workloads: ReadonlyMap<string, number>,
    transitions: readonly TaskTransition[],
    audit: readonly NewAuditEntry[],
  ): Promise<void>;
  /** Oldest first. */
  transitions(taskId: string): Promise<TaskTransition[]>;
  /** Newest first, keyset-paginated. */
  list(filter: TaskFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Task>>;
  /** The direct subtasks of a task. */
  children(id: string): Promise<Task[]>;
  /**
   * Agents that may take a task: not disabled, of one of `tiers`, in `workspace` (or of no
   * workspace) and, when skills are given, holding at least one of them. At most `limit`.
   */
  candidates(query: {
    skills: readonly string[];
    workspace: string | null;
    tiers: readonly Tier[];
    limit: number;
  }): Promise<CandidateAgent[]>;
  /** Adds `delta` to an agent's workload (never below 0). */
  adjustWorkload(agentId: string, delta: number): Promise<void>;
  /** `adjustWorkload` for many agents in one statement. */
  adjustWorkloads(deltas: ReadonlyMap<string, number>): Promise<void>;
  /**
   * A claim, in one statement: up to `limit` ASSIGNED tasks whose backoff is over (of these
   * assignees, when given), most urgent and oldest first, move to IN_PROGRESS under `lease`
   * (attempts + 1, started at `lease.at`). PostgreSQL picks them `FOR UPDATE SKIP LOCKED`, so that
   * two nodes never claim the same task. Answers the tasks as written, most urgent first; the caller
   * checks the move (the state machine) in the same transaction.
   */
  claim(
    query: { assignees?: readonly string[]; limit: number; now: Date },
    lease: { owner: string; expiresAt: Date; at: Date },
  ): Promise<Task[]>;
  /** Those of `assignees` with an ASSIGNED task whose backoff is over (locks nothing). */
  claimableAssignees(assignees: readonly string[], now: Date): Promise<string[]>;
  /**
   * IN_PROGRESS → COMPLETED for many tasks in one statement (agents' results): each with its output
   * and the usage to add, all at `at` (duration from each one's start); the lease ends. The caller
   * holds the rows and has checked the move. Answers how many moved.
   */
  completeAttempts(rows: readonly CompletedAttempt[], at: Date): Promise<number>;
  /** IN_PROGRESS tasks whose lease ended before `now`, locked (skipping rows another node holds). */
  expiredLeases(now: Date, limit: number): Promise<Task[]>;
  /** IN_PROGRESS tasks whose lease owner starts with `ownerPrefix`, locked. */
  leasedBy(ownerPrefix: string, limit: number): Promise<Task[]>;
  /** Open (PENDING, ASSIGNED, IN_PROGRESS) tasks whose deadline is at or before `now`, locked. */
  pastDeadline(now: Date, limit: number): Promise<Task[]>;
  appendLogs(lines: readonly TaskLogEntry[]): Promise<void>;
  /** Moves the lease of those of `ids` that `owner` holds to `until`; returns the ids it still holds. */
  extendLeases(ids: readonly string[], owner: string, until: Date): Promise<string[]>;
  /** Tasks, outcomes, tokens, cost and durations per agent, team or workspace (one GROUP BY). */
  usage(query: UsageQuery): Promise<UsageGroup[]>;
  /** The cost and tokens of every task assigned to `assignee`, or of `workspace` (budgets). */
  spent(scope: { assignee: string } | { workspace: string }): Promise<UsageTotals>;
  /** How many agents hold work (workload > 0), per tier and workspace. */
  activeAgents(): Promise<ActiveAgentCount[]>;
  /** Log lines after `afterId`, oldest first. */
  logs(
    taskId: string,
    page: { afterId?: number; limit: number },
  ): Promise<Array<TaskLogLine & { id: number }>>;
}

/** A log line as written: which task and attempt it belongs to. */
export interface TaskLogEntry extends TaskLogLine {
  taskId: string;
}
