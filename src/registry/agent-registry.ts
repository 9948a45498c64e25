import { z } from 'zod';
import {
  type Agent,
  type AgentPatch,
  AgentPatchSchema,
  agentChanges,
  type NewAgent,
  NewAgentSchema,
} from '../core/agent.ts';
import { checkHierarchy, type HierarchyNode, type HierarchyProblem } from '../core/agent-hierarchy.ts';
import type { NewAuditEntry } from '../core/audit.ts';
import { ZiggieError } from '../core/errors.ts';
import type { Tier } from '../core/policy.ts';
import type { Page } from '../store/cursor.ts';
import type { AgentFilter, AgentTreeRow, Store, StoreTx } from '../store/types.ts';
import type { RequestContext } from './workspace-registry.ts';

/** Checks an agent's executor binding; throws a ZiggieError naming what is wrong. */
export type ExecutorCheck = (binding: { type: string } & Record<string, unknown>) => void;

/** The most agents one import takes (a request body of about 10-20 MB). */
export const MAX_IMPORT = 50_000;

/** `{agents: [...]}`: the body of `POST /api/agents/import`. */
export const ImportSchema = z.strictObject({ agents: z.array(NewAgentSchema).max(MAX_IMPORT) });

/** A node of `GET /api/agents/tree`. */
export interface AgentTreeNode extends Omit<AgentTreeRow, 'parent'> {
  children: AgentTreeNode[];
}

/**
 * The agent registry: create, change, disable, bulk import (all or nothing), queries and the
 * hierarchy as a tree. Every change checks the hierarchy rules (`core/agent-hierarchy.ts`) under the
 * registry lock and writes its audit entries in the same transaction.
 */
export class AgentRegistry {
  readonly #store: Store;
  readonly #checkExecutor: ExecutorCheck | undefined;

  /**
   * `checkExecutor` validates an `executor` binding (the orchestrator knows the executors); it
   * throws EXECUTOR_BINDING_INVALID, and the agent is not written.
   */
  constructor(store: Store, options: { checkExecutor?: ExecutorCheck } = {}) {
    this.#store = store;
    this.#checkExecutor = options.checkExecutor;
  }

  list(filter: AgentFilter, page: { limit: number; cursor?: string | null }): Promise<Page<Agent>> {
    return this.#store.agents.list(filter, page);
  }

  async get(id: string): Promise<Agent> {
    const agent = await this.#store.agents.get(id);
    if (!agent) throw notFound(id);
    return agent;
  }

  /** For authentication: the agent's tier and whether it is disabled (`AgentDirectory`). */
  async find(id: string): Promise<{ tier: Tier; disabled: boolean } | undefined> {
    const agent = await this.#store.agents.get(id);
    return agent && { tier: agent.tier, disabled: agent.status === 'disabled' };
  }

  async create(input: unknown, ctx: RequestContext): Promise<Agent> {
    const [agent] = await this.#create([NewAgentSchema.parse(input)], ctx, undefined);
    return this.get(agent?.id ?? '');
  }

  /** Registers every agent of `{agents: [...]}` or none; returns how many. */
  async import(input: unknown, ctx: RequestContext): Promise<{ imported: number }> {
    const { agents } = ImportSchema.parse(input);
    const importId = `import-${Date.now().toString(36)}`;
    const created = await this.#create(agents, ctx, importId);
    return { imported: created.length };
  }

  async update(id: string, input: unknown, ctx: RequestContext): Promise<Agent> {
    const parsed = AgentPatchSchema.parse(input);
    if (parsed.executor) this.#checkBinding(id, parsed.executor);
    return this.#store.transaction(async (tx) => {
      await tx.agents.lock();
      const current = await tx.agents.get(id);
      if (!current) throw notFound(id);
      const node: HierarchyNode = {
        id,
        tier: parsed.tier ?? current.tier,
        parent: parsed.parent !== undefined ? parsed.parent : current.parent,
      };
      if (node.tier !== current.tier || node.parent !== current.parent) {
        const known = await ancestry(tx, node.parent === null ? [id] : [id, node.parent]);
        const children = node.tier !== current.tier ? await tx.agents.children(id) : [];
        const check = checkHierarchy([node], {
          mode: 'update',
          existing: (other) => known.get(other),
          childrenOf: () => children,
        });
        throwFirst(check.problems);
      }
      const patch = {
        ...parsed,
        ...(parsed.tier === undefined ? {} : { tier: node.tier as Tier }),
      } as AgentPatch;
      const changes = agentChanges(current, patch);
      if (Object.keys(changes).length === 0) return current;
      const updated = await tx.agents.update(id, patch);
      if (!updated) throw notFound(id);
      await tx.audit.append(updateEntries(id, changes, ctx));
      return updated;
    });
  }

  /** `{roots, total}`: the hierarchy (of a workspace, or under one agent), children by id. */
  async tree(options: { root?: string; workspace?: string; depth?: number }): Promise<{
    roots: AgentTreeNode[];
    total: number;
  }> {
    const rows = await this.#store.agents.tree(
      options.workspace === undefined ? {} : { workspace: options.workspace },
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    const children = new Map<string, AgentTreeRow[]>();
    for (const row of rows) {
      if (row.parent === null || !byId.has(row.parent)) continue;
      const list = children.get(row.parent) ?? [];
      list.push(row);
      children.set(row.parent, list);
    }
    let starts: AgentTreeRow[];
    if (options.root !== undefined) {
      const root = byId.get(options.root);
      if (!root) throw notFound(options.root);
      starts = [root];
    } else {
      // Within a workspace, an agent whose parent is elsewhere starts a tree of its own.
      starts = rows.filter((row) => row.parent === null || !byId.has(row.parent));
    }
    let total = 0;
    const build = (row: AgentTreeRow, depth: number): AgentTreeNode => {
      total++;
      const { parent: _, ...fields } = row;
      const below = options.depth !== undefined && depth >= options.depth ? [] : (children.get(row.id) ?? []);
      return { ...fields, children: below.map((child) => build(child, depth + 1)) };
    };
    return { roots: starts.map((row) => build(row, 0)), total };
  }

  #checkBinding(id: string, binding: { type: string } & Record<string, unknown>): void {
    try {
      this.#checkExecutor?.(binding);
    } catch (error) {
      if (error instanceof ZiggieError) {
        throw new ZiggieError(error.code, `agent ${id}: ${error.message}`, { agent: id, ...error.details });
      }
      throw error;
    }
  }

  async #create(agents: readonly z.infer<typeof NewAgentSchema>[], ctx: RequestContext, importId?: string) {
    for (const agent of agents) if (agent.executor) this.#checkBinding(agent.id, agent.executor);
    return this.#store.transaction(async (tx) => {
      await tx.agents.lock();
      const ids = agents.map((a) => a.id);
      const parents = agents.flatMap((a) => (a.parent === null ? [] : [a.parent]));
      const known = await ancestry(tx, [...new Set([...ids, ...parents])]);
      const check = checkHierarchy(agents, { mode: 'create', existing: (id) => known.get(id) });
      throwFirst(check.problems);
      const byId = new Map(agents.map((a) => [a.id, a as NewAgent]));
      const ordered = check.order.map((node) => byId.get(node.id) as NewAgent);
      await tx.agents.insert(ordered);
      await tx.audit.append(
        ordered.map(
          (agent): NewAuditEntry => ({
            actor: ctx.actor,
            action: 'AGENT_CREATED',
            entityType: 'agent',
            entityId: agent.id,
            metadata: {
              tier: agent.tier,
              team: agent.team,
              workspace: agent.workspace,
              parent: agent.parent,
              ...(importId ? { import: importId } : {}),
            },
            ip: ctx.ip ?? null,
          }),
        ),
      );
      return ordered;
    });
  }
}

/**
 * The hierarchy fields of the existing agents among `ids` and of all their ancestors: what the rules
 * need to see parents, duplicates and cycles. One query per level of the hierarchy.
 */
async function ancestry(tx: StoreTx, ids: readonly string[]): Promise<Map<string, HierarchyNode>> {
  const known = new Map<string, HierarchyNode>();
  let frontier = [...ids];
  for (let level = 0; frontier.length > 0 && level < 64; level++) {
    const rows = await tx.agents.nodes(frontier.filter((id) => !known.has(id)));
    for (const row of rows) known.set(row.id, row);
    frontier = [
      ...new Set(rows.flatMap((row) => (row.parent && !known.has(row.parent) ? [row.parent] : []))),
    ];
  }
  return known;
}

/** The first problem as the error, every problem (up to 20) in its details. */
function throwFirst(problems: readonly HierarchyProblem[]): void {
  const [first] = problems;
  if (!first) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : '';
  throw new ZiggieError(first.code, `${first.message}${more}`, {
    ...first.details,
    ...(problems.length > 1
      ? { problems: problems.slice(0, 20).map((p) => ({ code: p.code, agent: p.id, message: p.message })) }
      : {}),
  });
}

/** One entry per kind of change: tier (permissions), disabling or enabling, and the rest. */
function updateEntries(
  id: string,
  changes: Record<string, { from: unknown; to: unknown }>,
  ctx: RequestContext,
): NewAuditEntry[] {
  const { tier, status, ...rest } = changes;
  const entries: Array<[NewAuditEntry['action'], Record<string, unknown>]> = [];
  if (tier) entries.push(['AGENT_PERMISSION_CHANGED', { tier }]);
  if (status?.to === 'disabled') entries.push(['AGENT_DEACTIVATED', { status }]);
  else if (status?.from === 'disabled') entries.push(['AGENT_ACTIVATED', { status }]);
  else if (status) rest.status = status;
  if (Object.keys(rest).length > 0) entries.push(['AGENT_CONFIG_UPDATED', rest]);
  return entries.map(([action, fields]) => ({
    actor: ctx.actor,
    action,
    entityType: 'agent',
    entityId: id,
    metadata: { changes: fields },
    ip: ctx.ip ?? null,
  }));
}

function notFound(id: string): ZiggieError {
  return new ZiggieError('AGENT_NOT_FOUND', `no agent with id "${id}"`, { agent: id });
}
