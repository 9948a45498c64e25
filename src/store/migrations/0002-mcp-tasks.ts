import { type Kysely, sql } from 'kysely';
import type { StoreMigration } from './types.ts';

/**
 * MCP tasks (the `io.modelcontextprotocol/tasks` extension) the gateway runs for its clients: a
 * task's result outlives the client's connection, and a restart can tell what was in flight.
 */
export const mcpTasksMigration: StoreMigration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('mcp_tasks')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('owner', 'text', (col) => col.notNull())
      .addColumn('tool', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) =>
        col.notNull().check(sql`status in ('working', 'input_required', 'completed', 'failed', 'cancelled')`),
      )
      .addColumn('status_message', 'text')
      .addColumn('result_json', 'text')
      .addColumn('error_json', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      // Null: kept until deleted by hand (a task with no time-to-live).
      .addColumn('expires_at', 'bigint')
      // The Ziggie process running the task, and until when it vouches for it (renewed while it
      // runs): an in-flight task whose lease ran out lost its runner (a crash) and is failed.
      .addColumn('runner', 'text', (col) => col.notNull())
      .addColumn('lease_until', 'bigint', (col) => col.notNull())
      .execute();

    // Recovery looks for in-flight tasks with an expired lease; the sweeper for expired tasks.
    await db.schema.createIndex('mcp_tasks_status').on('mcp_tasks').column('status').execute();
    await db.schema.createIndex('mcp_tasks_expires_at').on('mcp_tasks').column('expires_at').execute();
  },
};
