import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  type Progress,
  type StandardSchemaV1,
} from '@modelcontextprotocol/client';
import { ZiggieError } from '../core/errors.ts';
import type { CallContext } from './call-recorder.ts';
import type { SessionServices } from './downstream/session-server.ts';
import type { CatalogView } from './view.ts';

/**
 * The result check of a 2025 upstream's tool without an output schema: an object, passed on as it
 * came. The SDK client's own check (`callTool`) is a zod parse of the whole result plus, per call, a
 * probe that formats a zod error message; the session server validates the result it sends anyway,
 * so it was done twice. Tools with an output schema (their structured content is checked) and 2026
 * upstreams (`Mcp-Param-*` header mirroring) still go through `callTool`.
 */
const RESULT_AS_IS: StandardSchemaV1<unknown, CallToolResult> = {
  '~standard': {
    version: 1,
    vendor: 'ziggie',
    validate: (value) =>
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? { value: value as CallToolResult }
        : { issues: [{ message: 'a tools/call result must be an object' }] },
  },
};

export interface InvokeOptions {
  signal?: AbortSignal;
  /**
   * The caller's log level. A 2026-07-28 upstream has no `logging/setLevel`; it takes the level
   * per request in `_meta`, so it is passed along with the call.
   */
  logLevel?: LoggingLevel;
  /**
   * What the calling client can be asked for. A 2026-07-28 upstream reads the client's
   * capabilities per request, so it is told those of the caller (of what Ziggie relays: sampling,
   * elicitation, roots) instead of Ziggie's own, and does not ask for what the caller cannot give.
   */
  clientCapabilities?: ClientCapabilities;
  onprogress?: (progress: Progress) => void;
  /** Who is calling, for the audit log's TOOL_CALLED entry. */
  caller?: CallContext;
  /** Called once the target is known and before the upstream is called; the return runs after. */
  track?: (server: string) => () => void;
}

/**
 * Calls a tool by its exposed name on a view: resolves it, checks the arguments against its input
 * schema, forwards it to the upstream (progress, cancellation, timeout, breaker) and records the
 * outcome. Shared by MCP sessions and the REST facade so both behave the same.
 */
export async function invokeTool(
  services: SessionServices,
  view: CatalogView,
  name: string,
  args: Record<string, unknown> | undefined,
  options: InvokeOptions = {},
): Promise<CallToolResult> {
  const target = checkedTool(services, view, name, args);
  const upstream = services.upstream(target.server);
  if (!upstream) throw new ZiggieError('UPSTREAM_NOT_FOUND', `upstream "${target.server}" was removed`);
  const untrack = options.track?.(target.server);
  const started = performance.now();
  let status: 'ok' | 'error' | 'failed' = 'failed';
  try {
    const meta = upstream.status().era === '2026' ? perRequestMeta(options) : undefined;
    const params = {
      name: target.entry.tool.name,
      ...(args ? { arguments: args } : {}),
      ...(meta ? { _meta: meta } : {}),
    };
    const lean = target.entry.tool.outputSchema === undefined;
    const result = (await upstream.call(
      (client, signal) => {
        const requestOptions = {
          signal,
          timeout: services.sdkTimeoutMs(target.server),
          resetTimeoutOnProgress: true,
          ...(options.onprogress ? { onprogress: options.onprogress } : {}),
        };
        return lean && client.getProtocolEra() !== 'modern'
          ? client.request({ method: 'tools/call', params }, RESULT_AS_IS, requestOptions)
          : client.callTool(params, requestOptions);
      },
      options.signal ? { signal: options.signal } : {},
    )) as CallToolResult;
    status = result.isError ? 'error' : 'ok';
    return result;
  } finally {
    untrack?.();
    services.recorder.record(
      target.server,
      target.entry.tool.name,
      status,
      performance.now() - started,
      options.caller,
    );
  }
}

/** The tool a call names, its arguments checked against its input schema; a Ziggie error otherwise. */
export function checkedTool(
  services: Pick<SessionServices, 'validator'>,
  view: CatalogView,
  name: string,
  args: Record<string, unknown> | undefined,
): NonNullable<ReturnType<CatalogView['resolveTool']>> {
  const target = view.resolveTool(name);
  if (!target)
    throw new ZiggieError('TOOL_NOT_FOUND', `unknown tool "${name}" (see tools/list)`, { tool: name });
  const problem = services.validator.check(target.entry.hash, target.entry.tool.inputSchema, args);
  if (problem) {
    throw new ZiggieError('TOOL_ARGUMENTS_INVALID', `invalid arguments for tool "${name}": ${problem}`, {
      tool: name,
    });
  }
  return target;
}

/** The caller's part of a 2026 upstream request's `_meta` envelope (the SDK fills in the rest). */
export function perRequestMeta(
  options: Pick<InvokeOptions, 'logLevel' | 'clientCapabilities'>,
): Record<string, unknown> | undefined {
  const meta: Record<string, unknown> = {};
  if (options.logLevel) meta[LOG_LEVEL_META_KEY] = options.logLevel;
  const caps = options.clientCapabilities;
  if (caps) {
    meta[CLIENT_CAPABILITIES_META_KEY] = {
      ...(caps.sampling ? { sampling: caps.sampling } : {}),
      ...(caps.elicitation ? { elicitation: caps.elicitation } : {}),
      ...(caps.roots ? { roots: caps.roots } : {}),
    };
  }
  return Object.keys(meta).length > 0 ? meta : undefined;
}
