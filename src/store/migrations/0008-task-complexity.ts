import type { Kysely } from 'kysely';
import type { StoreMigration } from './types.ts';

/**
 * What makes a task Elite work (issue 4 §3): high complexity, or a milestone. Kept on the task, so
 * that a later assignment (a retry, a PENDING task served when capacity frees up) decides the same.
 */
export const taskComplexityMigration: StoreMigration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('tasks').addColumn('complexity', 'text').execute();
    await db.schema.alterTable('tasks').addColumn('milestone', 'integer').execute();
  },
};
