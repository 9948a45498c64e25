import type { Selectable } from 'kysely';
import type { NewWorkspace, Workspace, WorkspacePatch, WorkspaceSource } from '../core/workspace.ts';
import { decodeCursor, encodeCursor, type Page } from './cursor.ts';
import type { StoreDb, WorkspacePortsTable, WorkspacesTable } from './schema.ts';
import { lockForWrite } from './sql-transaction.ts';
import type { AllocatedPort, StoreDialect, WorkspaceFilter, WorkspaceRepo } from './types.ts';

const CURSOR_KIND = 'workspace';

/**
 * The workspace registry and the ports handed out from workspace ranges. Checks that span rows
 * (overlapping ranges, the next free port) are the service's, under `lock()` in one transaction.
 */
export class SqlWorkspaceRepo implements WorkspaceRepo {
  readonly #db: StoreDb;
  readonly #dialect: StoreDialect;

  constructor(db: StoreDb, dialect: StoreDialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  lock(): Promise<void> {
    return lockForWrite(this.#db, this.#dialect, 'workspaces');
  }

  async list(
    filter: WorkspaceFilter,
    page: { limit: number; cursor?: string | null },
  ): Promise<Page<Workspace>> {
    let query = this.#db.selectFrom('workspaces').selectAll();
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.priority !== undefined) query = query.where('priority', '=', filter.priority);
    if (filter.health !== undefined) query = query.where('health', '=', filter.health);
    if (page.cursor) query = query.where('name', '>', decodeCursor(CURSOR_KIND, page.cursor));
    const rows = await query
      .orderBy('name')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map(toWorkspace);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > page.limit && last ? encodeCursor(CURSOR_KIND, last.name) : null,
    };
  }

  async all(): Promise<Workspace[]> {
    const rows = await this.#db.selectFrom('workspaces').selectAll().orderBy('name').execute();
    return rows.map(toWorkspace);
  }

  async get(name: string): Promise<Workspace | undefined> {
    const row = await this.#db
      .selectFrom('workspaces')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  async insert(workspace: NewWorkspace, source: WorkspaceSource): Promise<Workspace> {
    const now = Date.now();
    const row = await this.#db
      .insertInto('workspaces')
      .values({
        name: workspace.name,
        path: workspace.path,
        status: workspace.status,
        priority: workspace.priority,
        health: workspace.health,
        metadata_json: JSON.stringify(workspace.metadata),
        port_start: workspace.portRange?.[0] ?? null,
        port_end: workspace.portRange?.[1] ?? null,
        mcp_servers_json: JSON.stringify(workspace.mcpServers),
        source,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toWorkspace(row);
  }

  async update(
    name: string,
    patch: WorkspacePatch,
    source?: WorkspaceSource,
  ): Promise<Workspace | undefined> {
    const row = await this.#db
      .updateTable('workspaces')
      .set({
        ...(patch.path === undefined ? {} : { path: patch.path }),
        ...(patch.status === undefined ? {} : { status: patch.status }),
        ...(patch.priority === undefined ? {} : { priority: patch.priority }),
        ...(patch.health === undefined ? {} : { health: patch.health }),
        ...(patch.metadata === undefined ? {} : { metadata_json: JSON.stringify(patch.metadata) }),
        ...(patch.portRange === undefined
          ? {}
          : { port_start: patch.portRange?.[0] ?? null, port_end: patch.portRange?.[1] ?? null }),
        ...(patch.mcpServers === undefined ? {} : { mcp_servers_json: JSON.stringify(patch.mcpServers) }),
        ...(source === undefined ? {} : { source }),
        updated_at: Date.now(),
      })
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  async ports(name: string): Promise<AllocatedPort[]> {
    const rows = await this.#db
      .selectFrom('workspace_ports')
      .selectAll()
      .where('workspace', '=', name)
      .orderBy('port')
      .execute();
    return rows.map(toPort);
  }

  async allocatePort(name: string, port: number, label: string | null): Promise<AllocatedPort> {
    const row = await this.#db
      .insertInto('workspace_ports')
      .values({ port, workspace: name, label, allocated_at: Date.now() })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toPort(row);
  }

  async releasePort(name: string, port: number): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('workspace_ports')
      .where('workspace', '=', name)
      .where('port', '=', port)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

function toWorkspace(row: Selectable<WorkspacesTable>): Workspace {
  return {
    name: row.name,
    path: row.path,
    status: row.status as Workspace['status'],
    priority: row.priority as Workspace['priority'],
    health: row.health as Workspace['health'],
    metadata: JSON.parse(row.metadata_json) as Record<string, unknown>,
    portRange: row.port_start === null || row.port_end === null ? null : [row.port_start, row.port_end],
    mcpServers: JSON.parse(row.mcp_servers_json) as string[],
    source: row.source as WorkspaceSource,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

function toPort(row: Selectable<WorkspacePortsTable>): AllocatedPort {
  return {
    port: row.port,
    workspace: row.workspace,
    label: row.label,
    allocatedAt: new Date(Number(row.allocated_at)),
  };
}
