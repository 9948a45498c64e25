import type { Kysely } from 'kysely';
import type { StoreMigration } from './types.ts';

/**
 * The tier a task was submitted for (issue 4 §3: "by required skills + workspace (+ optional tier)"),
 * kept on the task so that a later assignment — a PENDING task served when capacity frees up, a
 * retry on another agent — still keeps to it.
 */
export const taskTierMigration: StoreMigration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('tasks').addColumn('tier', 'text').execute();
  },
};
