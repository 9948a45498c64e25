import { type Kysely, sql } from 'kysely';
import type { StoreMigration } from './types.ts';

/**
 * The registry: workspaces with the ports handed out from their ranges, and the agent hierarchy with
 * one row per (skill, agent) so that "agents with skill X" is an index lookup on both databases.
 */
export const registryMigration: StoreMigration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('workspaces')
      .addColumn('name', 'text', (col) => col.primaryKey())
      .addColumn('path', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) =>
        col.notNull().check(sql`status in ('active', 'planning', 'discovery', 'suspended', 'archived')`),
      )
      .addColumn('priority', 'text', (col) => col.notNull().check(sql`priority in ('P0', 'P1', 'P2')`))
      .addColumn('health', 'text', (col) =>
        col.notNull().check(sql`health in ('on-track', 'at-risk', 'blocked')`),
      )
      .addColumn('metadata_json', 'text', (col) => col.notNull())
      .addColumn('port_start', 'integer')
      .addColumn('port_end', 'integer')
      .addColumn('mcp_servers_json', 'text', (col) => col.notNull())
      .addColumn('source', 'text', (col) => col.notNull().check(sql`source in ('config', 'api')`))
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .addCheckConstraint(
        'workspaces_port_range',
        sql`(port_start is null) = (port_end is null) and port_start <= port_end`,
      )
      .execute();

    await db.schema
      .createTable('workspace_ports')
      // Ranges never overlap, so a port belongs to one workspace: the port alone is the key.
      .addColumn('port', 'integer', (col) => col.primaryKey())
      .addColumn('workspace', 'text', (col) =>
        col.notNull().references('workspaces.name').onDelete('cascade'),
      )
      .addColumn('label', 'text')
      .addColumn('allocated_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema
      .createIndex('workspace_ports_workspace')
      .on('workspace_ports')
      .columns(['workspace', 'port'])
      .execute();

    await db.schema
      .createTable('agents')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('tier', 'text', (col) => col.notNull().check(sql`tier in ('L0', 'L1', 'L2', 'L3')`))
      .addColumn('team', 'text')
      // A workspace name, not a foreign key: agents may be registered before their workspace is declared.
      .addColumn('workspace', 'text')
      .addColumn('parent', 'text', (col) => col.references('agents.id'))
      .addColumn('skills_json', 'text', (col) => col.notNull())
      .addColumn('specialization', 'text')
      .addColumn('status', 'text', (col) =>
        col.notNull().check(sql`status in ('idle', 'assigned', 'working', 'blocked', 'offline', 'disabled')`),
      )
      .addColumn('capacity', 'integer', (col) => col.notNull())
      .addColumn('workload', 'integer', (col) => col.notNull())
      .addColumn('quality_score', 'double precision', (col) => col.notNull())
      .addColumn('tasks_completed', 'bigint', (col) => col.notNull())
      .addColumn('avg_completion_ms', 'double precision')
      .addColumn('executor_json', 'text')
      .addColumn('metadata_json', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    // Listings are ordered by id and filtered by one of these (the planner picks the most selective).
    for (const column of ['tier', 'team', 'workspace', 'status', 'parent']) {
      await db.schema.createIndex(`agents_${column}`).on('agents').columns([column, 'id']).execute();
    }

    await db.schema
      .createTable('agent_skills')
      .addColumn('skill', 'text', (col) => col.notNull())
      .addColumn('agent_id', 'text', (col) => col.notNull().references('agents.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('agent_skills_pk', ['skill', 'agent_id'])
      .execute();
    await db.schema.createIndex('agent_skills_agent').on('agent_skills').column('agent_id').execute();
  },
};
