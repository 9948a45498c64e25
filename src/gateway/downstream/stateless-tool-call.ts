import {
  type CallToolRequest,
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { invokeTool } from '../invoke-tool.ts';
import type { UpstreamClientRequestMethod } from '../upstream/types.ts';
import type { CatalogView } from '../view.ts';
import { callerOf } from './caller.ts';
import { toProtocolError } from './errors.ts';
import type { HeldCall, HeldState } from './held-calls.ts';
import { type DownstreamSession, LOG_SEVERITY } from './session.ts';
import type { SessionServices } from './session-server.ts';

/** `requestState` of a held tool call: the held call, its round, and the tool it was for. */
export interface HeldToolState extends HeldState {
  t: string;
}

/** The capabilities a stateless request's client declared in its `_meta` envelope. */
function envelopeCapabilities(ctx: ServerContext): ClientCapabilities {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return (envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? {};
}

/** Whether a stateless request's client declared what an upstream asks of it. */
export function envelopeSupports(ctx: ServerContext, method: UpstreamClientRequestMethod): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
  if (!caps) return false;
  if (method === 'sampling/createMessage') return caps.sampling !== undefined;
  if (method === 'elicitation/create') return caps.elicitation !== undefined;
  return caps.roots !== undefined;
}

/** Who holds a call: the authenticated client, or everyone alike until auth exists. */
export function ownerOf(ctx: ServerContext): string {
  return ctx.http?.authInfo?.clientId ?? 'anonymous';
}

/**
 * `tools/call` from a stateless (2026-07-28) client. The upstream call runs as a held call: when
 * the upstream asks for client input, the client gets `input_required` with the questions and a
 * sealed `requestState`; its retry carries the answers to the waiting upstream request. The first
 * round starts the call, later rounds resume it; every round relays progress while it waits.
 */
export async function callToolStateless(
  services: SessionServices,
  view: CatalogView,
  session: DownstreamSession,
  request: CallToolRequest,
  ctx: ServerContext,
): Promise<CallToolResult | InputRequiredResult> {
  const { name, arguments: args } = request.params;
  const owner = ownerOf(ctx);
  // 2026 clients ask for log messages per request; none are sent without a level.
  const logLevel = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[LOG_LEVEL_META_KEY] as
    | LoggingLevel
    | undefined;
  const state = ctx.mcpReq.requestState<HeldToolState>();
  let call: HeldCall<CallToolResult>;
  try {
    if (state !== undefined) {
      call = services.heldCalls.resume<CallToolResult>(state, owner);
      if (state.t !== name) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid or expired requestState', {
          reason: 'other_tool',
        });
      }
      // A refused answer leaves the call held, its expiry clock still running.
      call.answer(state.r, ctx.mcpReq.inputResponses ?? {});
      call.stopClock();
    } else {
      call = services.heldCalls.start<CallToolResult>(owner, (held, signal) =>
        invokeTool(services, view, name, args, {
          signal,
          caller: callerOf(ctx),
          ...(logLevel ? { logLevel } : {}),
          clientCapabilities: envelopeCapabilities(ctx),
          onprogress: (progress) => held.onprogress?.(progress as Record<string, unknown>),
          track: (server) => {
            const inFlight = services.sessions.beginCall(session, server, {
              supports: (method) => envelopeSupports(ctx, method),
              ask: (method, params, askSignal, inputName) => held.ask(method, params, askSignal, inputName),
              log: (message) => held.onlog?.(message),
            });
            return () => services.sessions.endCall(inFlight);
          },
        }),
      );
    }
  } catch (error) {
    throw toProtocolError(error, view.resolveTool(name)?.server);
  }

  // Progress and log messages go out on this round's stream, in order, before its answer.
  let relayed = Promise.resolve();
  const relay = (notification: { method: string; params: Record<string, unknown> }) => {
    relayed = relayed.then(() => ctx.mcpReq.notify(notification as never)).catch(() => {});
  };
  const progressToken = request.params._meta?.progressToken;
  if (progressToken !== undefined) {
    call.onprogress = (progress) =>
      relay({ method: 'notifications/progress', params: { ...progress, progressToken } });
  }
  if (logLevel) {
    call.onlog = (message) => {
      const level = (message.level ?? 'info') as LoggingLevel;
      if (LOG_SEVERITY[level] >= LOG_SEVERITY[logLevel])
        relay({ method: 'notifications/message', params: message });
    };
  }
  try {
    const outcome = await call.next(ctx.mcpReq.signal).catch((error: unknown) => {
      services.heldCalls.finish(call as HeldCall<unknown>);
      throw error;
    });
    await relayed;
    if (outcome.done) {
      services.heldCalls.finish(call as HeldCall<unknown>);
      return outcome.result;
    }
    services.heldCalls.park(call as HeldCall<unknown>);
    const requestState = await services.requestStateCodec.mint({ h: call.id, r: call.round, t: name });
    return {
      resultType: 'input_required',
      inputRequests: outcome.requests,
      requestState,
    } as InputRequiredResult;
  } catch (error) {
    throw toProtocolError(error, view.resolveTool(name)?.server);
  } finally {
    call.onprogress = undefined;
    call.onlog = undefined;
  }
}
