import {
  type AuthInfo,
  type CallToolRequest,
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  MissingRequiredClientCapabilityError,
  type Progress,
  type ProgressToken,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { CallContext } from '../call-recorder.ts';
import { invokeTool } from '../invoke-tool.ts';
import type { UpstreamClientRequestMethod } from '../upstream/types.ts';
import type { CatalogView } from '../view.ts';
import { callerOfAuth } from './caller.ts';
import { toProtocolError } from './errors.ts';
import type { HeldCall, HeldState } from './held-calls.ts';
import { LOG_SEVERITY } from './session.ts';
import type { CallOrigin } from './session-registry.ts';
import type { SessionServices } from './session-server.ts';

/** `requestState` of a held request: the held call, its round, and the request's key (`HeldRequest`). */
export interface HeldToolState extends HeldState {
  t: string;
}

/**
 * What a stateless tool call needs of its request: the SDK's per-request context, or Ziggie's own
 * fast path for plain calls (src/api/stateless-fast-call.ts), which has no SDK server at all.
 */
export interface StatelessCallRequest {
  /** The request's `_meta` envelope (protocol version, client capabilities, log level). */
  readonly envelope: Record<string, unknown> | undefined;
  readonly authInfo: AuthInfo | undefined;
  /** Aborts when the client goes away: the upstream call is cancelled. */
  readonly signal: AbortSignal;
  /** The verified `requestState` of a retried round; undefined on a first round. */
  readonly requestState: HeldToolState | undefined;
  readonly inputResponses: Record<string, unknown> | undefined;
  /** Sends a notification tied to this request (progress, log messages) before its answer. */
  notify(notification: { method: string; params: Record<string, unknown> }): Promise<void>;
}

/** The stateless call request of a request the SDK's per-request server serves. */
export function statelessRequestOf(ctx: ServerContext): StatelessCallRequest {
  return {
    envelope: ctx.mcpReq.envelope as Record<string, unknown> | undefined,
    authInfo: ctx.http?.authInfo,
    signal: ctx.mcpReq.signal,
    requestState: ctx.mcpReq.requestState<HeldToolState>(),
    inputResponses: ctx.mcpReq.inputResponses,
    notify: (notification) => ctx.mcpReq.notify(notification as never),
  };
}

/** Whether a client whose envelope declared `caps` can answer what an upstream asks of it. */
export function capabilitiesSupport(
  caps: ClientCapabilities | undefined,
  method: UpstreamClientRequestMethod,
): boolean {
  if (!caps) return false;
  if (method === 'sampling/createMessage') return caps.sampling !== undefined;
  if (method === 'elicitation/create') return caps.elicitation !== undefined;
  return caps.roots !== undefined;
}

/** The capabilities a stateless request's client declared in its `_meta` envelope. */
function envelopeCapabilities(envelope: Record<string, unknown> | undefined): ClientCapabilities | undefined {
  return envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
}

/** Whether a stateless request's client declared what an upstream asks of it. */
export function envelopeSupports(ctx: ServerContext, method: UpstreamClientRequestMethod): boolean {
  return capabilitiesSupport(
    envelopeCapabilities(ctx.mcpReq.envelope as Record<string, unknown> | undefined),
    method,
  );
}

/** Who holds a call: the authenticated client, or everyone alike until auth exists. */
export function ownerOf(ctx: ServerContext): string {
  return ownerOfAuth(ctx.http?.authInfo);
}

function ownerOfAuth(authInfo: AuthInfo | undefined): string {
  return authInfo?.clientId ?? 'anonymous';
}

/** `tools/call` from a stateless (2026-07-28) client served by the SDK's per-request server. */
export function callToolStateless(
  services: SessionServices,
  view: CatalogView,
  origin: CallOrigin,
  request: CallToolRequest,
  ctx: ServerContext,
): Promise<CallToolResult | InputRequiredResult> {
  return runStatelessToolCall(services, view, origin, request.params, statelessRequestOf(ctx));
}

/**
 * `tools/call` from a stateless (2026-07-28) client, as a held request (below): the tool is called
 * with the caller's log level and capabilities, progress and upstream requests relayed.
 */
export function runStatelessToolCall(
  services: SessionServices,
  view: CatalogView,
  origin: CallOrigin,
  params: CallToolRequest['params'],
  req: StatelessCallRequest,
): Promise<CallToolResult | InputRequiredResult> {
  const { name, arguments: args } = params;
  return runHeldRequest<CallToolResult>(services, origin, req, {
    key: name,
    server: view.resolveTool(name)?.server,
    progressToken: params._meta?.progressToken,
    run: (hooks, signal) =>
      invokeTool(services, view, name, args, {
        signal,
        caller: hooks.caller,
        ...(hooks.logLevel ? { logLevel: hooks.logLevel } : {}),
        clientCapabilities: hooks.capabilities,
        onprogress: hooks.onprogress,
        track: hooks.track,
      }),
  });
}

/** What a held request's upstream side gets: who calls, what they can answer, where input goes. */
export interface HeldHooks {
  readonly caller: CallContext;
  readonly logLevel: LoggingLevel | undefined;
  readonly capabilities: ClientCapabilities;
  onprogress(progress: Progress): void;
  /** Registers the request as in flight on `server`: its requests for input come to this client. */
  track(server: string): () => void;
}

/** A stateless client's request that may need client input on the way. */
export interface HeldRequest<T> {
  /**
   * What its `requestState` names, so a state cannot resume another request: the tool's name for
   * `tools/call` (as states always had it), `<method> <name or uri>` for the others (tool names
   * have no spaces).
   */
  readonly key: string;
  /** The upstream serving it, for error messages; undefined when unknown. */
  readonly server: string | undefined;
  readonly progressToken: ProgressToken | undefined;
  /** Makes the upstream request. */
  run(hooks: HeldHooks, signal: AbortSignal): Promise<T>;
}

/**
 * A stateless (2026-07-28) client's request, run as a held call: when the upstream asks for client
 * input, the client gets `input_required` with the questions and a sealed `requestState`; its retry
 * carries the answers to the waiting upstream request. The first round starts the request, later
 * rounds resume it; every round relays progress and log messages while it waits.
 */
export async function runHeldRequest<T extends object>(
  services: SessionServices,
  origin: CallOrigin,
  req: StatelessCallRequest,
  request: HeldRequest<T>,
): Promise<T | InputRequiredResult> {
  const { key } = request;
  const owner = ownerOfAuth(req.authInfo);
  // 2026 clients ask for log messages per request; none are sent without a level.
  const logLevel = req.envelope?.[LOG_LEVEL_META_KEY] as LoggingLevel | undefined;
  const state = req.requestState;
  const capabilities = envelopeCapabilities(req.envelope);
  let call: HeldCall<T>;
  try {
    if (state !== undefined) {
      call = services.heldCalls.resume<T>(state, owner);
      if (state.t !== key) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid or expired requestState', {
          reason: 'other_tool',
        });
      }
      // A refused answer leaves the call held, its expiry clock still running.
      call.answer(state.r, req.inputResponses ?? {});
      call.stopClock();
    } else {
      call = services.heldCalls.start<T>(owner, (held, signal) =>
        request.run(
          {
            caller: callerOfAuth(req.authInfo),
            logLevel,
            capabilities: capabilities ?? {},
            onprogress: (progress) => held.onprogress?.(progress as Record<string, unknown>),
            track: (server) => {
              const inFlight = services.sessions.beginCall(origin, server, {
                supports: (method) => capabilitiesSupport(capabilities, method),
                ask: (method, params, askSignal, inputName) => held.ask(method, params, askSignal, inputName),
                log: (message) => held.onlog?.(message),
                refused: (method) => held.refusals.add(CAPABILITY_OF[method]),
              });
              return () => services.sessions.endCall(inFlight);
            },
          },
          signal,
        ),
      );
    }
  } catch (error) {
    throw toProtocolError(error, request.server);
  }

  // Progress and log messages go out on this round's stream, in order, before its answer.
  let relayed = Promise.resolve();
  const relay = (notification: { method: string; params: Record<string, unknown> }) => {
    relayed = relayed.then(() => req.notify(notification)).catch(() => {});
  };
  const { progressToken } = request;
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
    const outcome = await call.next(req.signal).catch((error: unknown) => {
      services.heldCalls.finish(call as HeldCall<unknown>);
      throw missingCapability(call) ?? error;
    });
    await relayed;
    if (outcome.done) {
      services.heldCalls.finish(call as HeldCall<unknown>);
      if ((outcome.result as { isError?: unknown }).isError === true) {
        const missing = missingCapability(call);
        if (missing) throw missing;
      }
      return outcome.result;
    }
    services.heldCalls.park(call as HeldCall<unknown>);
    const requestState = await services.requestStateCodec.mint({ h: call.id, r: call.round, t: key });
    return {
      resultType: 'input_required',
      inputRequests: outcome.requests,
      requestState,
    } as InputRequiredResult;
  } catch (error) {
    throw toProtocolError(error, request.server);
  } finally {
    call.onprogress = undefined;
    call.onlog = undefined;
  }
}

/** The client capability each upstream request for input needs. */
const CAPABILITY_OF: Record<UpstreamClientRequestMethod, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * A call that failed after Ziggie refused the upstream something the client did not declare (a 2025
 * upstream cannot know what a 2026 client declared, so it asks, and turns the refusal into an error
 * result or a failure): the 2026-07-28 answer to that is `MissingRequiredClientCapabilityError`
 * (`-32021`, HTTP 400) naming what was missing, as a 2026 server would have answered itself.
 */
function missingCapability(call: HeldCall<unknown>): MissingRequiredClientCapabilityError | undefined {
  if (call.refusals.size === 0) return undefined;
  const requiredCapabilities = Object.fromEntries([...call.refusals].map((capability) => [capability, {}]));
  return new MissingRequiredClientCapabilityError({ requiredCapabilities });
}
