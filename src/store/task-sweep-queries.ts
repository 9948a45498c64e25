import { type RawBuilder, type Selectable, type SelectQueryBuilder, sql } from 'kysely';
import type { Task } from '../core/task.ts';
import type { Database, StoreDb, TasksTable } from './schema.ts';
import { toTask } from './task-rows.ts';
import type { StoreDialect } from './types.ts';

/** The orchestrator sweeps' reads of tasks: expired leases, a node's leases, deadlines; lease renewal. */

/** Attempts whose lease ran out (locked, skipping locked ones, on PostgreSQL). */
export async function expiredLeases(
  db: StoreDb,
  dialect: StoreDialect,
  now: Date,
  limit: number,
): Promise<Task[]> {
  return lockedForSweep(
    dialect,
    db
      .selectFrom('tasks')
      .selectAll()
      .where('lease_expires_at', 'is not', null)
      .where('lease_expires_at', '<', now.getTime())
      .where(statusColumn(dialect), '=', 'IN_PROGRESS')
      .orderBy('lease_expires_at')
      .limit(limit),
  );
}

/**
 * `status` in the sweeps' filters. On SQLite `+status`: without statistics its planner would walk
 * every open task through the status index (milliseconds with thousands in flight, blocking the
 * event loop) instead of the partial lease or deadline index, which holds only the few due.
 */
function statusColumn(dialect: StoreDialect): RawBuilder<string> {
  return dialect === 'sqlite' ? sql<string>`+status` : sql<string>`status`;
}

/** The attempts in progress whose lease owner starts with `ownerPrefix` (a node's, at its restart). */
export async function leasedBy(
  db: StoreDb,
  dialect: StoreDialect,
  ownerPrefix: string,
  limit: number,
): Promise<Task[]> {
  return lockedForSweep(
    dialect,
    db
      .selectFrom('tasks')
      .selectAll()
      .where('status', '=', 'IN_PROGRESS')
      // A prefix compare without LIKE: owner ids may hold `_`, a LIKE wildcard.
      .where(sql<string>`substr(lease_owner, 1, ${ownerPrefix.length})`, '=', ownerPrefix)
      .orderBy('id')
      .limit(limit),
  );
}

/** Open tasks past their deadline. */
export async function pastDeadline(
  db: StoreDb,
  dialect: StoreDialect,
  now: Date,
  limit: number,
): Promise<Task[]> {
  return lockedForSweep(
    dialect,
    db
      .selectFrom('tasks')
      .selectAll()
      .where('deadline', 'is not', null)
      .where('deadline', '<=', now.getTime())
      .where(statusColumn(dialect), 'in', ['PENDING', 'ASSIGNED', 'IN_PROGRESS'])
      .orderBy('deadline')
      .limit(limit),
  );
}

/** Renews the leases `owner` still holds; the ids it still held. */
export async function extendLeases(
  db: StoreDb,
  ids: readonly string[],
  owner: string,
  until: Date,
): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .updateTable('tasks')
    .set({ lease_expires_at: until.getTime() })
    .where('id', 'in', [...ids])
    .where('lease_owner', '=', owner)
    .where('status', '=', 'IN_PROGRESS')
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Runs a sweep's select; on PostgreSQL the rows are locked, skipping those another node holds. */
async function lockedForSweep(
  dialect: StoreDialect,
  query: SelectQueryBuilder<Database, 'tasks', Selectable<TasksTable>>,
): Promise<Task[]> {
  const rows = await (dialect === 'postgres' ? query.forUpdate().skipLocked() : query).execute();
  return rows.map(toTask);
}
