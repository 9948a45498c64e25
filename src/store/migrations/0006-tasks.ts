import { type Kysely, sql } from 'kysely';
import type { StoreMigration } from './types.ts';

/**
 * Orchestrator tasks and their transitions (issue 4 §1). A task's status changes only together with
 * a row in `task_transitions` and its audit entry, in one transaction (orchestrator/task-service.ts).
 */
export const tasksMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    const statuses = sql.raw(
      [
        'PENDING',
        'ASSIGNED',
        'IN_PROGRESS',
        'REVIEW_REQUESTED',
        'APPROVED',
        'REJECTED',
        'COMPLETED',
        'FAILED',
        'CANCELLED',
      ]
        .map((s) => `'${s}'`)
        .join(', '),
    );
    await db.schema
      .createTable('tasks')
      // Time-ordered ids (`tsk_<ms base36><random>`): listings go by id, newest first.
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('task_type', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull().check(sql`status in (${statuses})`))
      .addColumn('priority', 'text', (col) =>
        col.notNull().check(sql`priority in ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')`),
      )
      // Names, not foreign keys: as agents, tasks may name a workspace declared later.
      .addColumn('workspace', 'text')
      .addColumn('creator_type', 'text', (col) => col.notNull())
      .addColumn('creator_id', 'text', (col) => col.notNull())
      .addColumn('assignee', 'text', (col) => col.references('agents.id'))
      .addColumn('reviewer_type', 'text')
      .addColumn('reviewer_id', 'text')
      .addColumn('parent_id', 'text', (col) => col.references('tasks.id'))
      .addColumn('depth', 'integer', (col) => col.notNull())
      .addColumn('required_skills_json', 'text', (col) => col.notNull())
      .addColumn('input_json', 'text', (col) => col.notNull())
      .addColumn('output_json', 'text')
      .addColumn('error_json', 'text')
      .addColumn('review_feedback', 'text')
      .addColumn('attempts', 'integer', (col) => col.notNull())
      .addColumn('max_attempts', 'integer', (col) => col.notNull())
      .addColumn('rejections', 'integer', (col) => col.notNull())
      .addColumn('idempotency_key', 'text')
      .addColumn('deadline', 'bigint')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('assigned_at', 'bigint')
      .addColumn('started_at', 'bigint')
      .addColumn('review_requested_at', 'bigint')
      .addColumn('reviewed_at', 'bigint')
      .addColumn('completed_at', 'bigint')
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .addColumn('duration_ms', 'double precision')
      .addColumn('input_tokens', 'bigint', (col) => col.notNull())
      .addColumn('output_tokens', 'bigint', (col) => col.notNull())
      .addColumn('cost', 'double precision', (col) => col.notNull())
      .addColumn('why', 'text')
      .execute();
    // Listings are by id (newest first), filtered by one of these.
    for (const column of ['status', 'workspace', 'assignee', 'parent_id']) {
      await db.schema.createIndex(`tasks_${column}`).on('tasks').columns([column, 'id']).execute();
    }
    // NULL keys are distinct on both databases: only tasks submitted with a key are constrained.
    await db.schema
      .createIndex('tasks_idempotency')
      .on('tasks')
      .columns(['creator_type', 'creator_id', 'idempotency_key'])
      .unique()
      .execute();

    await db.schema
      .createTable('task_transitions')
      .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (col) =>
        dialect === 'sqlite'
          ? col.primaryKey().autoIncrement()
          : col.primaryKey().generatedAlwaysAsIdentity(),
      )
      .addColumn('task_id', 'text', (col) => col.notNull().references('tasks.id'))
      .addColumn('from_status', 'text')
      .addColumn('to_status', 'text', (col) => col.notNull())
      .addColumn('actor_type', 'text', (col) => col.notNull())
      .addColumn('actor_id', 'text', (col) => col.notNull())
      .addColumn('reason', 'text')
      .addColumn('at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema
      .createIndex('task_transitions_task')
      .on('task_transitions')
      .columns(['task_id', 'id'])
      .execute();
  },
};
