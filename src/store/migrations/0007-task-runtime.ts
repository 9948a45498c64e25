import { type Kysely, sql } from 'kysely';
import type { StoreMigration } from './types.ts';

/**
 * What running tasks needs (issue 4 §4-5): the lease of the attempt in progress (who holds it and
 * until when), the earliest time a retry may start (exponential backoff), how a parent settles
 * from its subtasks, and the task log (executor output, lines in order).
 */
export const taskRuntimeMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    // One column per statement: SQLite's ALTER TABLE adds one at a time.
    const columns: Array<[string, 'text' | 'bigint' | 'integer']> = [
      ['lease_owner', 'text'],
      ['lease_expires_at', 'bigint'],
      ['not_before', 'bigint'],
      ['child_policy', 'text'],
      ['awaiting_children', 'integer'],
    ];
    for (const [name, type] of columns) {
      await db.schema.alterTable('tasks').addColumn(name, type).execute();
    }
    // Claims look for ASSIGNED tasks by assignee; the sweeper for leases and deadlines that passed.
    await db.schema
      .createIndex('tasks_claim')
      .on('tasks')
      .columns(['status', 'assignee', 'not_before'])
      .execute();
    await db.schema
      .createIndex('tasks_lease')
      .on('tasks')
      .columns(['lease_expires_at'])
      .where(sql.ref('lease_expires_at'), 'is not', null)
      .execute();
    await db.schema
      .createIndex('tasks_deadline')
      .on('tasks')
      .columns(['deadline'])
      .where(sql.ref('deadline'), 'is not', null)
      .execute();

    await db.schema
      .createTable('task_logs')
      .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (col) =>
        dialect === 'sqlite'
          ? col.primaryKey().autoIncrement()
          : col.primaryKey().generatedAlwaysAsIdentity(),
      )
      .addColumn('task_id', 'text', (col) => col.notNull().references('tasks.id'))
      .addColumn('attempt', 'integer', (col) => col.notNull())
      .addColumn('stream', 'text', (col) => col.notNull())
      .addColumn('text', 'text', (col) => col.notNull())
      .addColumn('at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('task_logs_task').on('task_logs').columns(['task_id', 'id']).execute();
  },
};
