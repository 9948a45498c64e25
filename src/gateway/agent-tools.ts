import type { Actor } from '../core/access.ts';
import { NO_CLIENT_INPUT } from './downstream/session-registry.ts';
import type { Gateway } from './gateway.ts';
import { invokeTool } from './invoke-tool.ts';
import type { CatalogView } from './view.ts';

/** A gateway tool as an agent run by the orchestrator sees it (aggregate names). */
export interface GatewayTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

/**
 * The gateway tools one agent may use, for the orchestrator's executors (`mcp`, `llm`): the tool
 * set of its workspace (every tool, for an agent of no workspace), called as that agent (audited
 * and counted like any call). Nobody can answer sampling, elicitation or roots during such a call:
 * the upstream is told so at once.
 */
export function agentTools(gateway: Gateway, view: () => Promise<CatalogView>, actor: Actor) {
  return {
    async list(): Promise<GatewayTool[]> {
      const current = await view();
      gateway.touch(current);
      return current.tools().map((t) => ({
        name: t.exposed.name,
        ...(t.exposed.description === undefined ? {} : { description: t.exposed.description }),
        inputSchema: t.exposed.inputSchema as Record<string, unknown>,
      }));
    },
    async call(name: string, args: Record<string, unknown>, signal: AbortSignal) {
      const current = await view();
      const result = await invokeTool(gateway, current, name, args, {
        signal,
        caller: { actor },
        track: (server) => {
          const call = gateway.sessions.beginCall({ view: current }, server, NO_CLIENT_INPUT);
          return () => gateway.sessions.endCall(call);
        },
      });
      return {
        content: result.content as Array<Record<string, unknown>>,
        ...(result.structuredContent === undefined
          ? {}
          : { structuredContent: result.structuredContent as Record<string, unknown> }),
        ...(result.isError === undefined ? {} : { isError: result.isError }),
      };
    },
  };
}
