import { type Insertable, type Selectable, type SelectQueryBuilder, sql } from 'kysely';
import type { Agent, AgentPatch, NewAgent } from '../core/agent.ts';
import type { HierarchyNode } from '../core/agent-hierarchy.ts';
import type { Tier } from '../core/policy.ts';
import { decodeCursor, encodeCursor, type Page } from './cursor.ts';
import type { AgentsTable, Database, StoreDb } from './schema.ts';
import { lockForWrite } from './sql-transaction.ts';
import type { AgentFilter, AgentRepo, AgentTreeRow, StoreDialect } from './types.ts';

const CURSOR_KIND = 'agent';
/** 18 columns: 500 rows is 9,000 parameters, well below SQLite's 32,766 and PostgreSQL's 65,535. */
const AGENTS_PER_INSERT = 500;
const SKILLS_PER_INSERT = 2000;
/** Ids per `in (…)` list. */
const IDS_PER_QUERY = 1000;

/**
 * The agent registry. Skills are kept twice: as JSON on the agent (read back in one row) and one
 * row per (skill, agent) in `agent_skills`, so "agents with skill X" is an index range on both
 * databases. Hierarchy rules are checked by the service under `lock()`; the parent foreign key is the
 * database's own last line of defence.
 */
export class SqlAgentRepo implements AgentRepo {
  readonly #db: StoreDb;
  readonly #dialect: StoreDialect;

  constructor(db: StoreDb, dialect: StoreDialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  lock(): Promise<void> {
    return lockForWrite(this.#db, this.#dialect, 'agents');
  }

  async list(filter: AgentFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Agent>> {
    let query = applyFilter(this.#db.selectFrom('agents').selectAll('agents'), filter);
    if (page.cursor) query = query.where('agents.id', '>', decodeCursor(CURSOR_KIND, page.cursor));
    const rows = await query
      .orderBy('agents.id')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map(toAgent);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > page.limit && last ? encodeCursor(CURSOR_KIND, last.id) : null,
    };
  }

  async get(id: string): Promise<Agent | undefined> {
    const row = await this.#db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAgent(row) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, Agent>> {
    if (ids.length === 0) return new Map();
    const rows = await this.#db
      .selectFrom('agents')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
    return new Map(rows.map((row) => [row.id, toAgent(row)]));
  }

  async nodes(ids: readonly string[]): Promise<HierarchyNode[]> {
    const out: HierarchyNode[] = [];
    for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
      const chunk = ids.slice(start, start + IDS_PER_QUERY);
      if (chunk.length === 0) continue;
      out.push(
        ...(await this.#db
          .selectFrom('agents')
          .select(['id', 'tier', 'parent'])
          .where('id', 'in', chunk)
          .execute()),
      );
    }
    return out;
  }

  children(id: string): Promise<HierarchyNode[]> {
    return this.#db.selectFrom('agents').select(['id', 'tier', 'parent']).where('parent', '=', id).execute();
  }

  async insert(agents: readonly NewAgent[]): Promise<void> {
    if (agents.length === 0) return;
    const now = Date.now();
    const rows = agents.map((agent) => toRow(agent, now));
    // Parents first (the caller orders them): the parent foreign key is checked per statement.
    for (let start = 0; start < rows.length; start += AGENTS_PER_INSERT) {
      await this.#db
        .insertInto('agents')
        .values(rows.slice(start, start + AGENTS_PER_INSERT))
        .execute();
    }
    const skills = agents.flatMap((agent) =>
      [...new Set(agent.skills)].map((skill) => ({ skill, agent_id: agent.id })),
    );
    for (let start = 0; start < skills.length; start += SKILLS_PER_INSERT) {
      await this.#db
        .insertInto('agent_skills')
        .values(skills.slice(start, start + SKILLS_PER_INSERT))
        .execute();
    }
  }

  async update(id: string, patch: AgentPatch): Promise<Agent | undefined> {
    const set: Partial<Insertable<AgentsTable>> = { updated_at: Date.now() };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.tier !== undefined) set.tier = patch.tier;
    if (patch.team !== undefined) set.team = patch.team;
    if (patch.workspace !== undefined) set.workspace = patch.workspace;
    if (patch.parent !== undefined) set.parent = patch.parent;
    if (patch.skills !== undefined) set.skills_json = JSON.stringify(patch.skills);
    if (patch.specialization !== undefined) set.specialization = patch.specialization;
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.capacity !== undefined) set.capacity = patch.capacity;
    if (patch.workload !== undefined) set.workload = patch.workload;
    if (patch.qualityScore !== undefined) set.quality_score = patch.qualityScore;
    if (patch.tasksCompleted !== undefined) set.tasks_completed = patch.tasksCompleted;
    if (patch.avgCompletionMs !== undefined) set.avg_completion_ms = patch.avgCompletionMs;
    if (patch.executor !== undefined)
      set.executor_json = patch.executor === null ? null : JSON.stringify(patch.executor);
    if (patch.metadata !== undefined) set.metadata_json = JSON.stringify(patch.metadata);
    const row = await this.#db
      .updateTable('agents')
      .set(set)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    if (patch.skills !== undefined) {
      await this.#db.deleteFrom('agent_skills').where('agent_id', '=', id).execute();
      const skills = [...new Set(patch.skills)].map((skill) => ({ skill, agent_id: id }));
      if (skills.length > 0) await this.#db.insertInto('agent_skills').values(skills).execute();
    }
    return toAgent(row);
  }

  async tree(filter: Pick<AgentFilter, 'workspace'>): Promise<AgentTreeRow[]> {
    let query = this.#db
      .selectFrom('agents')
      .select(['id', 'name', 'tier', 'team', 'workspace', 'parent', 'status']);
    if (filter.workspace !== undefined) query = query.where('workspace', '=', filter.workspace);
    const rows = await query.orderBy('id').execute();
    return rows.map((row) => ({ ...row, tier: row.tier as Tier, status: row.status as Agent['status'] }));
  }

  async countByTier(workspace: string): Promise<Record<string, number>> {
    const rows = await this.#db
      .selectFrom('agents')
      .select((eb) => ['tier', eb.fn.countAll().as('n')])
      .where('workspace', '=', workspace)
      .groupBy('tier')
      .orderBy('tier')
      .execute();
    return Object.fromEntries(rows.map((row) => [row.tier, Number(row.n)]));
  }

  async withExecutor(types: readonly string[]): Promise<Array<{ id: string; capacity: number }>> {
    if (types.length === 0) return [];
    const type =
      this.#dialect === 'postgres'
        ? sql<string>`(executor_json::jsonb ->> 'type')`
        : sql<string>`json_extract(executor_json, '$.type')`;
    const rows = await this.#db
      .selectFrom('agents')
      .select(['id', 'capacity'])
      .where('executor_json', 'is not', null)
      .where('status', '!=', 'disabled')
      .where(type, 'in', [...types])
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ id: row.id, capacity: Number(row.capacity) }));
  }
}

function applyFilter<O>(
  query: SelectQueryBuilder<Database, 'agents', O>,
  filter: AgentFilter,
): SelectQueryBuilder<Database, 'agents', O> {
  let q = query;
  if (filter.tier !== undefined) q = q.where('agents.tier', '=', filter.tier);
  if (filter.team !== undefined) q = q.where('agents.team', '=', filter.team);
  if (filter.workspace !== undefined) q = q.where('agents.workspace', '=', filter.workspace);
  if (filter.status !== undefined) q = q.where('agents.status', '=', filter.status);
  if (filter.parent !== undefined) q = q.where('agents.parent', '=', filter.parent);
  if (filter.skill !== undefined) {
    const skill = filter.skill;
    q = q.where('agents.id', 'in', (eb) =>
      eb.selectFrom('agent_skills').select('agent_skills.agent_id').where('agent_skills.skill', '=', skill),
    );
  }
  return q;
}

function toRow(agent: NewAgent, now: number): Insertable<AgentsTable> {
  return {
    id: agent.id,
    name: agent.name,
    tier: agent.tier,
    team: agent.team,
    workspace: agent.workspace,
    parent: agent.parent,
    skills_json: JSON.stringify(agent.skills),
    specialization: agent.specialization,
    status: agent.status,
    capacity: agent.capacity,
    workload: agent.workload,
    quality_score: agent.qualityScore,
    tasks_completed: agent.tasksCompleted,
    avg_completion_ms: agent.avgCompletionMs,
    executor_json: agent.executor === null ? null : JSON.stringify(agent.executor),
    metadata_json: JSON.stringify(agent.metadata),
    created_at: now,
    updated_at: now,
  };
}

function toAgent(row: Selectable<AgentsTable>): Agent {
  return {
    id: row.id,
    name: row.name,
    tier: row.tier as Tier,
    team: row.team,
    workspace: row.workspace,
    parent: row.parent,
    skills: JSON.parse(row.skills_json) as string[],
    specialization: row.specialization,
    status: row.status as Agent['status'],
    capacity: Number(row.capacity),
    workload: Number(row.workload),
    qualityScore: Number(row.quality_score),
    tasksCompleted: Number(row.tasks_completed),
    avgCompletionMs: row.avg_completion_ms === null ? null : Number(row.avg_completion_ms),
    executor: row.executor_json === null ? null : (JSON.parse(row.executor_json) as Agent['executor']),
    metadata: JSON.parse(row.metadata_json) as Record<string, unknown>,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}
