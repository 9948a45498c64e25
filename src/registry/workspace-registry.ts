import { z } from 'zod';
import type { Actor } from '../core/access.ts';
import type { NewAuditEntry } from '../core/audit.ts';
import { ZiggieError } from '../core/errors.ts';
import {
  findOverlap,
  formatRange,
  NewWorkspaceSchema,
  nextFreePort,
  type PortRange,
  type Workspace,
  type WorkspaceDeclaration,
  WorkspaceDeclarationSchema,
  WorkspaceNameSchema,
  WorkspacePatchSchema,
  type WorkspaceSource,
  workspaceChanges,
} from '../core/workspace.ts';
import type { Page } from '../store/cursor.ts';
import type { AllocatedPort, Store, StoreTx, WorkspaceFilter } from '../store/types.ts';

/** Who asks, for the audit log. */
export interface RequestContext {
  actor: Actor;
  ip?: string | null;
}

/** A workspace with the ports handed out from its range and the agents assigned to it. */
export interface WorkspaceDetail extends Workspace {
  ports: AllocatedPort[];
  agents: { total: number; byTier: Record<string, number> };
}

/** What imports take: `{<name>: declaration}` (as in ziggie.yaml) or a list of `{name, …}`. */
export const ImportMapSchema = z.record(WorkspaceNameSchema, WorkspaceDeclarationSchema);
export const ImportListSchema = z.array(WorkspaceDeclarationSchema.extend({ name: WorkspaceNameSchema }));

/**
 * The workspace registry: create, change, hand out ports, import declarations (ziggie.yaml at start,
 * YAML files from the CLI). Every change takes the registry lock and writes its audit entry in the
 * same transaction.
 */
export class WorkspaceRegistry {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  list(filter: WorkspaceFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Workspace>> {
    return this.#store.workspaces.list(filter, page);
  }

  /** Every workspace (exports). */
  all(): Promise<Workspace[]> {
    return this.#store.workspaces.all();
  }

  async get(name: string): Promise<WorkspaceDetail> {
    const workspace = await this.#store.workspaces.get(name);
    if (!workspace) throw notFound(name);
    const byTier = await this.#store.agents.countByTier(name);
    const total = Object.values(byTier).reduce((sum, n) => sum + n, 0);
    return { ...workspace, ports: await this.#store.workspaces.ports(name), agents: { total, byTier } };
  }

  async create(input: unknown, ctx: RequestContext): Promise<Workspace> {
    const workspace = NewWorkspaceSchema.parse(input);
    return this.#store.transaction(async (tx) => {
      await tx.workspaces.lock();
      if (await tx.workspaces.get(workspace.name)) {
        throw new ZiggieError('WORKSPACE_EXISTS', `a workspace named "${workspace.name}" already exists`, {
          workspace: workspace.name,
        });
      }
      checkOverlap(workspace.name, workspace.portRange, await tx.workspaces.all());
      const created = await tx.workspaces.insert(workspace, 'api');
      await tx.audit.append([
        entry(ctx, 'WORKSPACE_CREATED', created.name, { workspace: snapshot(created) }),
      ]);
      return created;
    });
  }

  async update(name: string, input: unknown, ctx: RequestContext): Promise<Workspace> {
    const patch = WorkspacePatchSchema.parse(input);
    return this.#store.transaction(async (tx) => {
      await tx.workspaces.lock();
      const current = await tx.workspaces.get(name);
      if (!current) throw notFound(name);
      return this.#applyChanges(tx, current, patch, ctx);
    });
  }

  /** Hands out the lowest free port of the workspace's range. */
  async allocatePort(name: string, label: string | null, ctx: RequestContext): Promise<AllocatedPort> {
    return this.#store.transaction(async (tx) => {
      await tx.workspaces.lock();
      const workspace = await tx.workspaces.get(name);
      if (!workspace) throw notFound(name);
      if (workspace.portRange === null) {
        throw new ZiggieError(
          'WORKSPACE_PORTS_EXHAUSTED',
          `workspace "${name}" has no port range to hand out ports from (set portRange)`,
          { workspace: name },
        );
      }
      const taken = (await tx.workspaces.ports(name)).map((p) => p.port);
      const port = nextFreePort(workspace.portRange, taken);
      if (port === undefined) {
        const range = formatRange(workspace.portRange);
        throw new ZiggieError(
          'WORKSPACE_PORTS_EXHAUSTED',
          `every port of workspace "${name}" (${range}) is handed out; release one or widen the range`,
          { workspace: name, portRange: workspace.portRange },
        );
      }
      const allocated = await tx.workspaces.allocatePort(name, port, label);
      await tx.audit.append([entry(ctx, 'WORKSPACE_PORT_ALLOCATED', name, { port, label })]);
      return allocated;
    });
  }

  async releasePort(name: string, port: number, ctx: RequestContext): Promise<void> {
    await this.#store.transaction(async (tx) => {
      await tx.workspaces.lock();
      if (!(await tx.workspaces.get(name))) throw notFound(name);
      if (!(await tx.workspaces.releasePort(name, port))) {
        throw new ZiggieError('NOT_FOUND', `port ${port} is not handed out to workspace "${name}"`, {
          workspace: name,
          port,
        });
      }
      await tx.audit.append([entry(ctx, 'WORKSPACE_PORT_RELEASED', name, { port })]);
    });
  }

  /**
   * Creates or updates workspaces from declarations, all or nothing: new ones with defaults for what
   * is not given, existing ones with exactly the given keys. Returns the names created and updated.
   */
  async import(input: unknown, ctx: RequestContext, source: WorkspaceSource = 'api') {
    const declarations = Array.isArray(input)
      ? ImportListSchema.parse(input).map(({ name, ...rest }) => [name, rest] as const)
      : Object.entries(ImportMapSchema.parse(input));
    const seen = new Set<string>();
    for (const [name] of declarations) {
      if (seen.has(name)) {
        throw new ZiggieError('VALIDATION_FAILED', `workspace "${name}" is given twice`, { workspace: name });
      }
      seen.add(name);
    }
    return this.#store.transaction(async (tx) => {
      await tx.workspaces.lock();
      const existing = new Map((await tx.workspaces.all()).map((w) => [w.name, w]));
      // Ranges are checked on the result as a whole, so an import may also move ranges around.
      const result = new Map<string, { name: string; portRange: PortRange | null }>(existing);
      for (const [name, declaration] of declarations) {
        const current = existing.get(name);
        const portRange =
          declaration.portRange !== undefined
            ? declaration.portRange
            : (current?.portRange ?? NewWorkspaceSchema.parse({ ...declaration, name }).portRange);
        result.set(name, { name, portRange });
      }
      for (const [name] of declarations)
        checkOverlap(name, result.get(name)?.portRange ?? null, result.values());

      const created: string[] = [];
      const updated: string[] = [];
      for (const [name, declaration] of declarations) {
        const current = existing.get(name);
        if (!current) {
          await this.#insert(tx, name, declaration, source, ctx);
          created.push(name);
        } else if ((await this.#applyChanges(tx, current, declaration, ctx, source, false)) !== current) {
          updated.push(name);
        }
      }
      return { created, updated };
    });
  }

  /** `ziggie.yaml`'s `workspaces:`, applied at start (as the system). */
  declare(declarations: Readonly<Record<string, WorkspaceDeclaration>>, actor: Actor): Promise<unknown> {
    return this.import(declarations, { actor }, 'config');
  }

  async #insert(
    tx: StoreTx,
    name: string,
    declaration: WorkspaceDeclaration,
    source: WorkspaceSource,
    ctx: RequestContext,
  ): Promise<Workspace> {
    const created = await tx.workspaces.insert(NewWorkspaceSchema.parse({ ...declaration, name }), source);
    await tx.audit.append([
      entry(ctx, 'WORKSPACE_CREATED', name, {
        workspace: snapshot(created),
        ...(source === 'config' ? { source } : {}),
      }),
    ]);
    return created;
  }

  /** Applies `patch`; returns `current` itself when nothing changes. */
  async #applyChanges(
    tx: StoreTx,
    current: Workspace,
    patch: WorkspaceDeclaration | z.infer<typeof WorkspacePatchSchema>,
    ctx: RequestContext,
    source?: WorkspaceSource,
    checkRange = true,
  ): Promise<Workspace> {
    const changes = workspaceChanges(current, patch);
    const becomesConfig = source === 'config' && current.source !== 'config';
    if (Object.keys(changes).length === 0 && !becomesConfig) return current;
    if (changes.portRange) {
      const range = patch.portRange ?? null;
      if (checkRange) checkOverlap(current.name, range, await tx.workspaces.all());
      const outside = (await tx.workspaces.ports(current.name))
        .map((p) => p.port)
        .filter((port) => range === null || port < range[0] || port > range[1]);
      if (outside.length > 0) {
        throw new ZiggieError(
          'CONFLICT',
          `workspace "${current.name}" has ports ${outside.join(', ')} handed out outside ${range ? formatRange(range) : 'any range'}; release them first`,
          { workspace: current.name, ports: outside },
        );
      }
    }
    const updated = await tx.workspaces.update(current.name, patch, becomesConfig ? 'config' : undefined);
    if (!updated) throw notFound(current.name);
    await tx.audit.append([
      entry(ctx, 'WORKSPACE_UPDATED', current.name, { changes, ...(source === 'config' ? { source } : {}) }),
    ]);
    return updated;
  }
}

/** Refuses a range that shares ports with another workspace's, naming both. */
function checkOverlap(
  name: string,
  range: PortRange | null,
  others: Iterable<{ name: string; portRange: PortRange | null }>,
): void {
  const other = findOverlap(name, range, others);
  if (!other || range === null || other.portRange === null) return;
  throw new ZiggieError(
    'WORKSPACE_PORT_OVERLAP',
    `port range ${formatRange(range)} of workspace "${name}" overlaps workspace "${other.name}" (${formatRange(other.portRange)})`,
    { workspace: name, portRange: range, other: other.name, otherPortRange: other.portRange },
  );
}

function notFound(name: string): ZiggieError {
  return new ZiggieError('WORKSPACE_NOT_FOUND', `no workspace named "${name}"`, { workspace: name });
}

function entry(
  ctx: RequestContext,
  action: NewAuditEntry['action'],
  name: string,
  metadata: Record<string, unknown>,
): NewAuditEntry {
  return { actor: ctx.actor, action, entityType: 'workspace', entityId: name, metadata, ip: ctx.ip ?? null };
}

/** The definition fields of a workspace, as audited on creation. */
function snapshot(workspace: Workspace): Record<string, unknown> {
  const { createdAt: _, updatedAt: __, ...fields } = workspace;
  return fields;
}
