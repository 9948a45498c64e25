import type { Client } from '@modelcontextprotocol/client';
import {
  type InputRequiredResult,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { perRequestMeta } from '../invoke-tool.ts';
import { toProtocolError } from './errors.ts';
import type { DownstreamSession } from './session.ts';
import type { SessionServices } from './session-server.ts';
import { runHeldRequest, statelessRequestOf } from './stateless-tool-call.ts';

/** A forwarded request other than `tools/call`: what its held state names, and where it goes. */
export interface ForwardTarget {
  /** `<method> <name or uri>` (see `HeldRequest.key`). */
  readonly key: string;
  readonly server: string;
}

/** Sends the request upstream; `meta` is the caller's part of a 2026 upstream's envelope. */
export type ForwardSend<T> = (
  client: Client,
  signal: AbortSignal,
  meta: Record<string, unknown> | undefined,
) => Promise<T>;

/**
 * `prompts/get` and `resources/read` forwarded so that the upstream's requests for client input
 * (a 2025 upstream's own sampling / elicitation / roots requests, a 2026 upstream's
 * `input_required`) reach the client that made the request, as a tool call's do: a 2025 session
 * is asked over its session; a 2026 client gets `input_required` and the upstream request is held
 * until its retry (`runHeldRequest`). Without this, Ziggie's routing of server-to-client requests
 * knew only the tool calls in flight on the upstream.
 */
export async function forwardWithInput<T extends object>(
  services: SessionServices,
  session: DownstreamSession,
  ctx: ServerContext,
  target: ForwardTarget,
  send: ForwardSend<T>,
): Promise<T | InputRequiredResult> {
  const upstream = services.upstream(target.server);
  if (!upstream) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `upstream "${target.server}" was removed`);
  }
  const modernUpstream = upstream.status().era === '2026';
  if (ctx.mcpReq.envelope) {
    return runHeldRequest<T>(services, session, statelessRequestOf(ctx), {
      key: target.key,
      server: target.server,
      progressToken: undefined,
      run: async (hooks, signal) => {
        const meta = modernUpstream
          ? perRequestMeta({
              ...(hooks.logLevel ? { logLevel: hooks.logLevel } : {}),
              clientCapabilities: hooks.capabilities,
            })
          : undefined;
        const untrack = hooks.track(target.server);
        try {
          return await upstream.call((client, callSignal) => send(client, callSignal, meta), { signal });
        } finally {
          untrack();
        }
      },
    });
  }
  const meta =
    modernUpstream && session.logLevel ? perRequestMeta({ logLevel: session.logLevel }) : undefined;
  const inFlight = services.sessions.beginCall(session, target.server, {
    supports: (method) => session.supports(method),
    ask: (method, params, signal) =>
      ctx.mcpReq.send({ method, params } as never, { signal }) as Promise<Record<string, unknown>>,
  });
  try {
    return await upstream.call((client, signal) => send(client, signal, meta), { signal: ctx.mcpReq.signal });
  } catch (error) {
    throw toProtocolError(error, target.server);
  } finally {
    services.sessions.endCall(inFlight);
  }
}

/**
 * A request's params as they go upstream: a stateless client's `_meta` envelope, `requestState`
 * and `inputResponses` are its exchange with Ziggie, not the upstream's; `meta` takes their place.
 */
export function upstreamParams<P extends Record<string, unknown>>(
  params: P,
  ctx: ServerContext,
  meta: Record<string, unknown> | undefined,
): P {
  if (!ctx.mcpReq.envelope)
    return meta ? { ...params, _meta: { ...(params._meta as object), ...meta } } : params;
  const { _meta: _envelope, requestState: _state, inputResponses: _answers, ...rest } = params;
  return (meta ? { ...rest, _meta: meta } : rest) as P;
}
