import { type Insertable, type QueryCreator, sql } from 'kysely';
import type { TaskTransition } from '../core/task.ts';
import type { AppendPrefix } from './audit-repo.ts';
import type { Database, TasksTable } from './schema.ts';

/** What the end of a task transaction writes besides the audit entries: workloads, transitions, new tasks. */

/** The columns of a transition row, in the order of the PostgreSQL insert in `movesPrefix`. */
const TRANSITION_COLUMNS = [
  'task_id',
  'from_status',
  'to_status',
  'actor_type',
  'actor_id',
  'reason',
  'at',
] as const;

export function transitionRow(t: TaskTransition) {
  return {
    task_id: t.taskId,
    from_status: t.from,
    to_status: t.to,
    actor_type: t.actor.type,
    actor_id: t.actor.id,
    reason: t.reason,
    at: t.at.getTime(),
  };
}

/** Adds each agent's delta to its workload (never below 0), in one statement. */
export function workloadUpdate(db: QueryCreator<Database>, changes: ReadonlyArray<[string, number]>) {
  const delta = sql<number>`(case id ${sql.join(
    changes.map(([id, d]) => sql`when ${id} then ${d}`),
    sql` `,
  )} else 0 end)`;
  return db
    .updateTable('agents')
    .set({ workload: sql<number>`case when workload + ${delta} < 0 then 0 else workload + ${delta} end` })
    .where(
      'id',
      'in',
      changes.map(([id]) => id),
    );
}

/**
 * On PostgreSQL, the new tasks, the workload changes (agents locked in id order) and the transition
 * rows as data-modifying CTEs of the audit append, whose head is locked after the agents: one round
 * trip for the lot. Undefined when there is nothing but audit entries to write.
 */
export function movesPrefix(
  newTasks: ReadonlyArray<Insertable<TasksTable>>,
  workloads: ReadonlyArray<[string, number]>,
  transitions: readonly TaskTransition[],
): AppendPrefix | undefined {
  const prefix: AppendPrefix = { ctes: [], params: [], gate: [] };
  if (newTasks.length > 0) {
    // Every new row has the same columns (newRow), in the same order.
    const columns = Object.keys(newTasks[0] as object) as Array<keyof Insertable<TasksTable>>;
    const values = `(${columns.map(() => '?').join(', ')})`;
    prefix.ctes.push(
      `new_tasks as (insert into tasks (${columns.join(', ')}) values ${newTasks.map(() => values).join(', ')})`,
    );
    for (const row of newTasks) for (const column of columns) prefix.params.push(row[column] ?? null);
  }
  if (workloads.length > 0) {
    prefix.ctes.push(`moved_workloads as (update agents
        set workload = greatest(0, workload + (?::int[])[array_position(?::text[], id)])
        where id = any(?::text[]) returning 1)`);
    const ids = workloads.map(([id]) => id);
    prefix.params.push(
      workloads.map(([, delta]) => delta),
      ids,
      ids,
    );
    prefix.gate.push('moved_workloads');
  }
  if (transitions.length > 0) {
    prefix.ctes.push(`moved_transitions as (insert into task_transitions
        (task_id, from_status, to_status, actor_type, actor_id, reason, at)
        select * from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[]))`);
    const rows = transitions.map(transitionRow);
    for (const column of TRANSITION_COLUMNS) prefix.params.push(rows.map((row) => row[column]));
  }
  return prefix.ctes.length > 0 ? prefix : undefined;
}
