import { type RawBuilder, sql } from 'kysely';
import type { Tier } from '../core/policy.ts';
import type { StoreDb } from './schema.ts';
import type { ActiveAgentCount, UsageGroup, UsageGroupBy, UsageQuery, UsageTotals } from './types.ts';

/** The rollups over tasks that usage, budgets and the `active_agents` gauge read. */

/** The column a usage rollup groups by (`a` is the assignee, joined for its team). */
const USAGE_KEY: Record<UsageGroupBy, RawBuilder<string | null>> = {
  agent: sql`t.assignee`,
  team: sql`a.team`,
  workspace: sql`t.workspace`,
};

/** A row of the usage query as the drivers return it (PostgreSQL: bigint and numeric as strings). */
interface UsageRow {
  group_key: string | null;
  tasks: number | string;
  completed: number | string | null;
  failed: number | string | null;
  input_tokens: number | string | null;
  output_tokens: number | string | null;
  cost: number | string | null;
  duration_ms: number | string | null;
  avg_duration_ms: number | string | null;
}

/** Tokens, cost and duration of tasks, rolled up per agent, team or workspace (`GET /api/usage`). */
export async function usageRollup(db: StoreDb, query: UsageQuery): Promise<UsageGroup[]> {
  const key = USAGE_KEY[query.groupBy];
  const where: RawBuilder<unknown>[] = [sql`1 = 1`];
  if (query.from) where.push(sql`t.created_at >= ${query.from.getTime()}`);
  if (query.to) where.push(sql`t.created_at < ${query.to.getTime()}`);
  if (query.workspace !== undefined) where.push(sql`t.workspace = ${query.workspace}`);
  // Each task's own columns: a parent's usage is what its own agent reported, never its subtasks'.
  const { rows } = await sql<UsageRow>`
    select ${key} as group_key,
      count(*) as tasks,
      sum(case when t.status = 'COMPLETED' then 1 else 0 end) as completed,
      sum(case when t.status = 'FAILED' then 1 else 0 end) as failed,
      sum(t.input_tokens) as input_tokens,
      sum(t.output_tokens) as output_tokens,
      sum(t.cost) as cost,
      sum(t.duration_ms) as duration_ms,
      avg(t.duration_ms) as avg_duration_ms
    from tasks t
    ${query.groupBy === 'team' ? sql`left join agents a on a.id = t.assignee` : sql``}
    where ${sql.join(where, sql` and `)}
    group by ${key}`.execute(db);
  const n = (value: number | string | null) => (value === null ? 0 : Number(value));
  return rows
    .map((row) => ({
      key: row.group_key,
      tasks: n(row.tasks),
      completed: n(row.completed),
      failed: n(row.failed),
      inputTokens: n(row.input_tokens),
      outputTokens: n(row.output_tokens),
      cost: n(row.cost),
      durationMs: n(row.duration_ms),
      avgDurationMs: row.avg_duration_ms === null ? null : Number(row.avg_duration_ms),
    }))
    .sort((a, b) =>
      a.key === b.key ? 0 : a.key === null ? 1 : b.key === null ? -1 : a.key < b.key ? -1 : 1,
    );
}

/** What an agent's or a workspace's tasks have cost so far (budgets). */
export async function spentBy(
  db: StoreDb,
  scope: { assignee: string } | { workspace: string },
): Promise<UsageTotals> {
  let q = db
    .selectFrom('tasks')
    .select([
      (eb) => eb.fn.sum<number | string | null>('cost').as('cost'),
      (eb) => eb.fn.sum<number | string | null>(sql`input_tokens + output_tokens`).as('tokens'),
    ]);
  q =
    'assignee' in scope
      ? q.where('assignee', '=', scope.assignee)
      : q.where('workspace', '=', scope.workspace);
  const row = await q.executeTakeFirst();
  return { cost: Number(row?.cost ?? 0), tokens: Number(row?.tokens ?? 0) };
}

/** Agents with work, per tier and workspace (`active_agents`). */
export async function activeAgentCounts(db: StoreDb): Promise<ActiveAgentCount[]> {
  const rows = await db
    .selectFrom('agents')
    .select(['tier', 'workspace', (eb) => eb.fn.countAll<number | string>().as('count')])
    .where('workload', '>', 0)
    .groupBy(['tier', 'workspace'])
    .execute();
  return rows.map((row) => ({
    tier: row.tier as Tier,
    workspace: row.workspace,
    count: Number(row.count),
  }));
}
