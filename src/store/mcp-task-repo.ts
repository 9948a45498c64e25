import type { Selectable } from 'kysely';
import type { McpTasksTable, StoreDb } from './schema.ts';
import type { McpTask, McpTaskChange, McpTaskError, McpTaskRepo, NewMcpTask } from './types.ts';

const IN_FLIGHT = ['working', 'input_required'] as const;

/**
 * MCP tasks. Every write that moves a task is guarded by "still in flight" in its WHERE clause,
 * so a terminal status is final whichever writer (the runner, a cancel, the expiry clock, another
 * process failing an abandoned task) gets there first — also across processes sharing a database.
 */
export class SqlMcpTaskRepo implements McpTaskRepo {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  async create(task: NewMcpTask): Promise<McpTask> {
    const at = task.createdAt.getTime();
    const row = await this.#db
      .insertInto('mcp_tasks')
      .values({
        id: task.id,
        owner: task.owner,
        tool: task.tool,
        status: task.status,
        status_message: task.statusMessage ?? null,
        result_json: null,
        error_json: null,
        created_at: at,
        updated_at: at,
        expires_at: task.expiresAt?.getTime() ?? null,
        runner: task.runner,
        lease_until: task.leaseUntil.getTime(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toTask(row);
  }

  async get(id: string, owner: string): Promise<McpTask | undefined> {
    const row = await this.#db
      .selectFrom('mcp_tasks')
      .selectAll()
      .where('id', '=', id)
      .where('owner', '=', owner)
      .executeTakeFirst();
    return row ? toTask(row) : undefined;
  }

  async transition(id: string, change: McpTaskChange): Promise<boolean> {
    const result = await this.#db
      .updateTable('mcp_tasks')
      .set({
        status: change.status,
        status_message: change.statusMessage ?? null,
        ...(change.result === undefined ? {} : { result_json: JSON.stringify(change.result) }),
        ...(change.error === undefined ? {} : { error_json: JSON.stringify(change.error) }),
        updated_at: Date.now(),
      })
      .where('id', '=', id)
      .where('status', 'in', IN_FLIGHT)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async renewLeases(runner: string, until: Date): Promise<number> {
    const result = await this.#db
      .updateTable('mcp_tasks')
      .set({ lease_until: until.getTime() })
      .where('runner', '=', runner)
      .where('status', 'in', IN_FLIGHT)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async failAbandoned(now: Date, statusMessage: string, error: McpTaskError): Promise<number> {
    const result = await this.#db
      .updateTable('mcp_tasks')
      .set({
        status: 'failed',
        status_message: statusMessage,
        error_json: JSON.stringify(error),
        updated_at: now.getTime(),
      })
      .where('status', 'in', IN_FLIGHT)
      .where('lease_until', '<=', now.getTime())
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('mcp_tasks')
      .where('expires_at', '<=', now.getTime())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toTask(row: Selectable<McpTasksTable>): McpTask {
  return {
    id: row.id,
    owner: row.owner,
    tool: row.tool,
    status: row.status,
    statusMessage: row.status_message,
    result: row.result_json === null ? null : (JSON.parse(row.result_json) as Record<string, unknown>),
    error: row.error_json === null ? null : (JSON.parse(row.error_json) as McpTaskError),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    expiresAt: row.expires_at === null ? null : new Date(Number(row.expires_at)),
    runner: row.runner,
    leaseUntil: new Date(Number(row.lease_until)),
  };
}
