import type { FastifyRequest } from 'fastify';
import { ZiggieError } from '../core/errors.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { CatalogView } from '../gateway/view.ts';
import type { AgentRegistry } from '../registry/agent-registry.ts';
import type { WorkspaceRegistry } from '../registry/workspace-registry.ts';

/** Which MCP endpoint a request came to. */
export type McpEndpoint =
  | { kind: 'aggregate' }
  | { kind: 'server'; server: string }
  | { kind: 'workspace'; workspace: string };

export interface McpScopeDeps {
  gateway: Gateway;
  workspaces: WorkspaceRegistry;
  agents: AgentRegistry;
}

/**
 * The view a request gets, after workspace scoping: an agent sees only the servers its workspace may
 * use — on `/mcp` its workspace's tool set, on `/servers/<name>/mcp` only an allowed server, and on
 * `/workspaces/<ws>/mcp` only its own workspace. Users and role keys are not confined to a
 * workspace. A refusal is `PERMISSION_DENIED` naming the workspace and what it does not allow.
 */
export async function scopedView(
  deps: McpScopeDeps,
  request: FastifyRequest,
  endpoint: McpEndpoint,
): Promise<CatalogView> {
  const home = await agentWorkspace(deps, request);
  if (endpoint.kind === 'workspace') {
    if (home && home !== endpoint.workspace) {
      throw new ZiggieError(
        'PERMISSION_DENIED',
        `agent ${request.actor?.id} belongs to workspace "${home}", not "${endpoint.workspace}"`,
        { workspace: endpoint.workspace },
      );
    }
    return workspaceView(deps, endpoint.workspace);
  }
  if (endpoint.kind === 'server') {
    const view = deps.gateway.serverView(endpoint.server);
    if (home) {
      const allowed = (await deps.workspaces.get(home)).mcpServers;
      if (!allowed.includes(endpoint.server)) {
        throw new ZiggieError(
          'PERMISSION_DENIED',
          `workspace "${home}" may not use server "${endpoint.server}" (it may use: ${allowed.join(', ') || 'none'})`,
          { workspace: home, server: endpoint.server },
        );
      }
    }
    return view;
  }
  return home ? workspaceView(deps, home) : deps.gateway.aggregateView();
}

async function workspaceView(deps: McpScopeDeps, name: string): Promise<CatalogView> {
  const workspace = await deps.workspaces.get(name);
  return deps.gateway.workspaceView(workspace.name, workspace.mcpServers);
}

/** The workspace an agent identity is confined to; undefined for everyone else (and unregistered agents). */
async function agentWorkspace(deps: McpScopeDeps, request: FastifyRequest): Promise<string | undefined> {
  const actor = request.actor;
  if (actor?.type !== 'agent') return undefined;
  const agent = await deps.agents.get(actor.id).catch(() => undefined);
  return agent?.workspace ?? undefined;
}
