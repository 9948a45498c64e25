import type { SQLInputValue } from 'node:sqlite';
import { CompiledQuery, type Insertable, type Selectable, sql } from 'kysely';
import type { Actor } from '../core/access.ts';
import type { CandidateAgent } from '../core/assignment.ts';
import type { NewAuditEntry } from '../core/audit.ts';
import type { Tier } from '../core/policy.ts';
import type { Task, TaskLogLine, TaskTransition } from '../core/task.ts';
import { numbered, type SqlAuditRepo } from './audit-repo.ts';
import { decodeCursor, encodeCursor, type Page } from './cursor.ts';
import type { RowWriter } from './row-writer.ts';
import type { StoreDb, TaskLogsTable, TasksTable, TaskTransitionsTable } from './schema.ts';
import { lockForWrite } from './sql-transaction.ts';
import { movesPrefix, transitionRow, workloadUpdate } from './task-moves-sql.ts';
import {
  chunks,
  newRow,
  ROWS_PER_STATEMENT,
  TASK_COLUMN_LIST,
  taskFromValues,
  toSet,
  toTask,
  toTransition,
  writtenTask,
} from './task-rows.ts';
import { expiredLeases, extendLeases, leasedBy, pastDeadline } from './task-sweep-queries.ts';
import { activeAgentCounts, spentBy, usageRollup } from './task-usage-queries.ts';
import type {
  ActiveAgentCount,
  CompletedAttempt,
  NewTask,
  StoreDialect,
  TaskAssignment,
  TaskFilter,
  TaskLogEntry,
  TaskRepo,
  TaskUpdate,
  UsageGroup,
  UsageQuery,
  UsageTotals,
} from './types.ts';

const CURSOR_KIND = 'task';

/** What a claim writes (PostgreSQL's numbered parameters, SQLite's `?`), the values in this order. */
const CLAIM_SET_SQLITE = `status = 'IN_PROGRESS', attempts = attempts + 1, started_at = ?, updated_at = ?,
  lease_owner = ?, lease_expires_at = ?, not_before = null`;
const CLAIM_SET_PG = `status = 'IN_PROGRESS', attempts = attempts + 1, started_at = $1, updated_at = $2,
  lease_owner = $3, lease_expires_at = $4, not_before = null`;

function rank(task: Task): number {
  return RANK[task.priority] ?? 3;
}

/** `order by` rank of a priority: CRITICAL first. */
const RANK_SQL = `case priority when 'CRITICAL' then 0 when 'HIGH' then 1 when 'MEDIUM' then 2 else 3 end`;
const RANK: Record<string, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2 };

/** SQLite's hot single-row statements, run through the transaction's row writer (no query builder). */
const COMPLETE_ONE_SQL = `update tasks set status = 'COMPLETED', output_json = ?, input_tokens = input_tokens + ?,
  output_tokens = output_tokens + ?, cost = cost + ?, completed_at = ?, updated_at = ?, duration_ms = ? - started_at,
  lease_owner = null, lease_expires_at = null where id = ? and status = 'IN_PROGRESS'`;
const GET_ONE_SQL = `select ${TASK_COLUMN_LIST} from tasks where id = ?`;

/**
 * Orchestrator tasks. The repository stores what the service decided; the state machine, the
 * delegation rules and the audit entries are the service's, in the same transaction.
 */
export class SqlTaskRepo implements TaskRepo {
  readonly #conn: StoreDb;
  /** New tasks written with the transaction's `writeMoves` (insertMany `withMoves`, PostgreSQL). */
  #deferred: Array<Insertable<TasksTable>> = [];
  readonly #dialect: StoreDialect;
  readonly #writer: RowWriter | undefined;
  /** The audit log of the same transaction (writeMoves appends to it). */
  readonly #audit: SqlAuditRepo;

  /** `writer`: the fast row appender, given only to repositories bound to a transaction. */
  constructor(db: StoreDb, dialect: StoreDialect, audit: SqlAuditRepo, writer?: RowWriter) {
    this.#conn = db;
    this.#dialect = dialect;
    this.#audit = audit;
    this.#writer = writer;
  }

  /** The connection (or transaction); never while new rows wait for writeMoves (they would be missed). */
  get #db(): StoreDb {
    if (this.#deferred.length > 0) {
      throw new Error(
        'task rows inserted withMoves are written by writeMoves, at the end of the transaction',
      );
    }
    return this.#conn;
  }

  async insert(task: NewTask, assignment?: TaskAssignment): Promise<Task> {
    const row = newRow(task, assignment);
    await this.#db.insertInto('tasks').values(row).execute();
    return writtenTask(row);
  }

  async insertMany(
    items: ReadonlyArray<{ task: NewTask; assignment?: TaskAssignment }>,
    options: { withMoves?: boolean } = {},
  ): Promise<Task[]> {
    const rows = items.map((item) => newRow(item.task, item.assignment));
    if (this.#writer) this.#writer.insert('tasks', rows);
    else if (options.withMoves && this.#dialect === 'postgres' && rows.length <= ROWS_PER_STATEMENT)
      this.#deferred.push(...rows);
    else
      for (const chunk of chunks(rows, ROWS_PER_STATEMENT))
        await this.#db.insertInto('tasks').values(chunk).execute();
    return rows.map(writtenTask);
  }

  async getMany(ids: readonly string[], options: { forUpdate?: boolean } = {}): Promise<Task[]> {
    if (ids.length === 0) return [];
    if (this.#writer) {
      // One prepared single-row lookup each: cheaper on SQLite than an `in` list of hundreds.
      const out: Task[] = [];
      for (const id of new Set(ids)) {
        const row = this.#writer.values(GET_ONE_SQL, [id])[0];
        if (row) out.push(taskFromValues(row));
      }
      return out;
    }
    let query = this.#db
      .selectFrom('tasks')
      .selectAll()
      .where('id', 'in', [...ids]);
    if (options.forUpdate && this.#dialect === 'postgres') query = query.forUpdate();
    return (await query.execute()).map(toTask);
  }

  async adjustWorkloads(deltas: ReadonlyMap<string, number>): Promise<void> {
    const changes = [...deltas].filter(([, delta]) => delta !== 0);
    for (const chunk of chunks(changes, ROWS_PER_STATEMENT)) await workloadUpdate(this.#db, chunk).execute();
  }

  async writeMoves(
    workloads: ReadonlyMap<string, number>,
    transitions: readonly TaskTransition[],
    audit: readonly NewAuditEntry[],
  ): Promise<void> {
    const changes = [...workloads].filter(([, delta]) => delta !== 0);
    if (this.#dialect !== 'postgres') {
      await this.adjustWorkloads(workloads);
      await this.appendTransitions(transitions);
      await this.#audit.append(audit);
      return;
    }
    // One round trip for the lot: the new tasks, the workloads and the transitions in data-modifying
    // CTEs of the audit append (task-moves-sql.ts).
    const prefix = movesPrefix(this.#deferred, changes, transitions);
    this.#deferred = [];
    await this.#audit.appendWith(audit, prefix);
  }

  async completeAttempts(rows: readonly CompletedAttempt[], at: Date): Promise<number> {
    let moved = 0;
    if (this.#writer) {
      // One prepared single-row UPDATE each: on SQLite far cheaper than building the statement below.
      const time = at.getTime();
      for (const row of rows) {
        moved += this.#writer.run(COMPLETE_ONE_SQL, [
          JSON.stringify(row.output ?? null),
          row.inputTokens,
          row.outputTokens,
          row.cost,
          time,
          time,
          time,
          row.id,
        ]);
      }
      return moved;
    }
    for (const chunk of chunks(rows, ROWS_PER_STATEMENT / 2)) {
      // One statement for the lot: what differs per task is chosen by id.
      const byId = (pick: (row: (typeof chunk)[number]) => unknown) =>
        sql`(case id ${sql.join(
          chunk.map((row) => sql`when ${row.id} then ${pick(row)}`),
          sql` `,
        )} end)`;
      const result = await this.#db
        .updateTable('tasks')
        .set({
          status: 'COMPLETED',
          output_json: byId((row) => JSON.stringify(row.output ?? null)) as unknown as string,
          input_tokens: sql<number>`input_tokens + ${byId((row) => sql`cast(${row.inputTokens} as bigint)`)}`,
          output_tokens: sql<number>`output_tokens + ${byId((row) => sql`cast(${row.outputTokens} as bigint)`)}`,
          cost: sql<number>`cost + ${byId((row) => sql`cast(${row.cost} as double precision)`)}`,
          completed_at: at.getTime(),
          updated_at: at.getTime(),
          duration_ms: sql<number>`cast(${at.getTime()} as bigint) - started_at`,
          lease_owner: null,
          lease_expires_at: null,
        })
        .where(
          'id',
          'in',
          chunk.map((row) => row.id),
        )
        .where('status', '=', 'IN_PROGRESS')
        .executeTakeFirst();
      moved += Number(result.numUpdatedRows);
    }
    return moved;
  }

  async claim(
    query: { assignees?: readonly string[]; limit: number; now: Date },
    lease: { owner: string; expiresAt: Date; at: Date },
  ): Promise<Task[]> {
    const { assignees } = query;
    if (assignees?.length === 0 || query.limit <= 0) return [];
    const at = lease.at.getTime();
    const params: unknown[] = [at, at, lease.owner, lease.expiresAt.getTime(), query.now.getTime()];
    let text: string;
    if (this.#dialect === 'postgres') {
      // The rows are picked and locked once (an InitPlan), skipping those another node holds.
      if (assignees) params.push([...assignees]);
      params.push(query.limit);
      text = `update tasks set ${CLAIM_SET_PG} where id = any(array(select id from tasks
        where status = 'ASSIGNED' and (not_before is null or not_before <= $5)
        ${assignees ? 'and assignee = any($6::text[])' : ''}
        order by ${RANK_SQL}, id limit $${params.length} for update skip locked))
        and status = 'ASSIGNED' returning *`;
    } else {
      if (assignees) params.push(...assignees);
      params.push(query.limit);
      text = `update tasks set ${CLAIM_SET_SQLITE} where id in (select id from tasks
        where status = 'ASSIGNED' and (not_before is null or not_before <= ?)
        ${assignees ? `and assignee in (${assignees.map(() => '?').join(', ')})` : ''}
        order by ${RANK_SQL}, id limit ?) and status = 'ASSIGNED' returning ${TASK_COLUMN_LIST}`;
    }
    // SQLite in a transaction: through the row writer, rows as arrays; else as a compiled query.
    const tasks = this.#writer
      ? this.#writer.values(text, params as SQLInputValue[]).map(taskFromValues)
      : (await this.#db.executeQuery<Selectable<TasksTable>>(CompiledQuery.raw(text, params))).rows.map(
          toTask,
        );
    // Most urgent first, then oldest (RETURNING keeps no order).
    return tasks.sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async claimableAssignees(assignees: readonly string[], now: Date): Promise<string[]> {
    if (assignees.length === 0) return [];
    const rows = await this.#db
      .selectFrom('tasks')
      .select('assignee')
      .distinct()
      .where('status', '=', 'ASSIGNED')
      .where('assignee', 'in', [...assignees])
      .where((eb) => eb.or([eb('not_before', 'is', null), eb('not_before', '<=', now.getTime())]))
      .execute();
    return rows.flatMap((row) => (row.assignee === null ? [] : [row.assignee]));
  }

  async get(id: string): Promise<Task | undefined> {
    const [row] = await this.#select<Selectable<TasksTable>>('select * from tasks where id = ?', [id]);
    return row ? toTask(row) : undefined;
  }

  /** A statement written once as text (`?` placeholders, numbered for PostgreSQL): no query building. */
  async #select<R>(text: string, params: unknown[]): Promise<R[]> {
    const query = CompiledQuery.raw(this.#dialect === 'postgres' ? numbered(text) : text, params);
    return (await this.#db.executeQuery<R>(query)).rows;
  }

  async getForUpdate(id: string): Promise<Task | undefined> {
    let query = this.#db.selectFrom('tasks').selectAll().where('id', '=', id);
    // SQLite has no row locks: every write transaction holds the database's write lock already.
    if (this.#dialect === 'postgres') query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row ? toTask(row) : undefined;
  }

  async findByIdempotencyKey(creator: Actor, key: string): Promise<Task | undefined> {
    const row = await this.#db
      .selectFrom('tasks')
      .selectAll()
      .where('creator_type', '=', creator.type)
      .where('creator_id', '=', creator.id)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row ? toTask(row) : undefined;
  }

  lockIdempotencyKey(creator: Actor, key: string): Promise<void> {
    return lockForWrite(this.#db, this.#dialect, `tasks.idempotency.${creator.type}:${creator.id}:${key}`);
  }

  async update(id: string, changes: TaskUpdate): Promise<Task | undefined> {
    const row = await this.#db
      .updateTable('tasks')
      .set(toSet(changes))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? toTask(row) : undefined;
  }

  async write(task: Task, changes: TaskUpdate): Promise<Task | undefined> {
    const result = await this.#db
      .updateTable('tasks')
      .set(toSet(changes))
      .where('id', '=', task.id)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    const written: Task = { ...task };
    for (const [key, value] of Object.entries(changes)) {
      if (value !== undefined) (written as unknown as Record<string, unknown>)[key] = value;
    }
    return written;
  }

  async appendTransitions(transitions: readonly TaskTransition[]): Promise<void> {
    const rows = transitions.map(transitionRow);
    if (this.#writer) return this.#writer.insert('task_transitions', rows);
    for (const chunk of chunks(rows, ROWS_PER_STATEMENT)) {
      await this.#db.insertInto('task_transitions').values(chunk).execute();
    }
  }

  async transitions(taskId: string): Promise<TaskTransition[]> {
    const rows = await this.#select<Selectable<TaskTransitionsTable>>(
      'select * from task_transitions where task_id = ? order by id',
      [taskId],
    );
    return rows.map(toTransition);
  }

  async list(filter: TaskFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Task>> {
    let query = this.#db.selectFrom('tasks').selectAll();
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.workspace !== undefined) query = query.where('workspace', '=', filter.workspace);
    if (filter.assignee !== undefined) query = query.where('assignee', '=', filter.assignee);
    if (filter.parentId !== undefined) query = query.where('parent_id', '=', filter.parentId);
    if (page.cursor) query = query.where('id', '<', decodeCursor(CURSOR_KIND, page.cursor));
    const rows = await query
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map(toTask);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > page.limit && last ? encodeCursor(CURSOR_KIND, last.id) : null,
    };
  }

  async children(id: string): Promise<Task[]> {
    const rows = await this.#db
      .selectFrom('tasks')
      .selectAll()
      .where('parent_id', '=', id)
      .orderBy('id')
      .execute();
    return rows.map(toTask);
  }

  async candidates(query: {
    skills: readonly string[];
    workspace: string | null;
    tiers: readonly Tier[];
    limit: number;
  }): Promise<CandidateAgent[]> {
    if (query.tiers.length === 0) return [];
    let q = this.#db
      .selectFrom('agents')
      .select(['id', 'tier', 'team', 'workspace', 'skills_json', 'status', 'capacity', 'workload'])
      .where('status', 'in', ['idle', 'assigned', 'working'])
      .where('tier', 'in', [...query.tiers]);
    const { workspace, skills } = query;
    if (workspace !== null)
      q = q.where((eb) => eb.or([eb('workspace', '=', workspace), eb('workspace', 'is', null)]));
    if (skills.length > 0) {
      q = q.where('id', 'in', (eb) =>
        eb
          .selectFrom('agent_skills')
          .select('agent_skills.agent_id')
          .where('agent_skills.skill', 'in', [...skills]),
      );
    }
    const rows = await q.orderBy('id').limit(query.limit).execute();
    return rows.map((row) => ({
      id: row.id,
      tier: row.tier as Tier,
      ...(row.team === null ? {} : { team: row.team }),
      ...(row.workspace === null ? {} : { workspace: row.workspace }),
      skills: JSON.parse(row.skills_json) as string[],
      status: row.status as CandidateAgent['status'],
      capacity: Number(row.capacity),
      workload: Number(row.workload),
    }));
  }

  expiredLeases(now: Date, limit: number): Promise<Task[]> {
    return expiredLeases(this.#db, this.#dialect, now, limit);
  }

  leasedBy(ownerPrefix: string, limit: number): Promise<Task[]> {
    return leasedBy(this.#db, this.#dialect, ownerPrefix, limit);
  }

  pastDeadline(now: Date, limit: number): Promise<Task[]> {
    return pastDeadline(this.#db, this.#dialect, now, limit);
  }

  extendLeases(ids: readonly string[], owner: string, until: Date): Promise<string[]> {
    return extendLeases(this.#db, ids, owner, until);
  }

  async appendLogs(lines: readonly TaskLogEntry[]): Promise<void> {
    if (lines.length === 0) return;
    await this.#db
      .insertInto('task_logs')
      .values(
        lines.map((line) => ({
          task_id: line.taskId,
          attempt: line.attempt,
          stream: line.stream,
          text: line.text,
          at: line.at.getTime(),
        })),
      )
      .execute();
  }

  async logs(
    taskId: string,
    page: { afterId?: number; limit: number },
  ): Promise<Array<TaskLogLine & { id: number }>> {
    const rows = await this.#select<Selectable<TaskLogsTable>>(
      'select * from task_logs where task_id = ? and id > ? order by id limit ?',
      [taskId, page.afterId ?? 0, page.limit],
    );
    return rows.map((row) => ({
      id: Number(row.id),
      attempt: Number(row.attempt),
      stream: row.stream as TaskLogLine['stream'],
      text: row.text,
      at: new Date(Number(row.at)),
    }));
  }

  usage(query: UsageQuery): Promise<UsageGroup[]> {
    return usageRollup(this.#db, query);
  }

  spent(scope: { assignee: string } | { workspace: string }): Promise<UsageTotals> {
    return spentBy(this.#db, scope);
  }

  activeAgents(): Promise<ActiveAgentCount[]> {
    return activeAgentCounts(this.#db);
  }

  async adjustWorkload(agentId: string, delta: number): Promise<void> {
    await this.#db
      .updateTable('agents')
      .set({ workload: sql<number>`case when workload + ${delta} < 0 then 0 else workload + ${delta} end` })
      .where('id', '=', agentId)
      .execute();
  }
}
