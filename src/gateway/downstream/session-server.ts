import {
  type Implementation,
  isInputRequiredResult,
  type LoggingLevel,
  ProtocolError,
  ProtocolErrorCode,
  type RequestStateCodec,
  Server,
  type ServerCapabilities,
} from '@modelcontextprotocol/server';
import type { ArgumentValidator } from '../argument-validator.ts';
import type { CallRecorder } from '../call-recorder.ts';
import type { Catalog } from '../catalog.ts';
import { invokeTool } from '../invoke-tool.ts';
import type { Upstream } from '../upstream/types.ts';
import type { CatalogView } from '../view.ts';
import { callerOf } from './caller.ts';
import { toProtocolError } from './errors.ts';
import { forwardWithInput, upstreamParams } from './forward-with-input.ts';
import type { HeldCallRegistry } from './held-calls.ts';
import { assertPermitted } from './permissions.ts';
import { resolveSubscribable } from './resource-subscriptions.ts';
import { DownstreamSession } from './session.ts';
import type { SessionRegistry } from './session-registry.ts';
import { callToolStateless, type HeldToolState } from './stateless-tool-call.ts';
import { callToolAsTask, registerTaskHandlers, TASKS_CAPABILITY, wantsTask } from './tasks/task-handlers.ts';
import type { TaskService } from './tasks/task-service.ts';

/** What a session's MCP server needs from the gateway. */
export interface SessionServices {
  readonly catalog: Catalog;
  readonly sessions: SessionRegistry;
  readonly recorder: CallRecorder;
  readonly validator: ArgumentValidator;
  readonly serverInfo: Implementation;
  upstream(name: string): Upstream | undefined;
  /** Timeout handed to the SDK for one upstream request; the gateway's own timeout is shorter. */
  sdkTimeoutMs(server: string): number;
  /** Starts the lazy servers of a view in the background (first use). */
  touch(view: CatalogView): void;
  /** Re-sends the most verbose level sessions want to the upstream. */
  applyLogLevel(server: string): void;
  /** The roots clients of this view offer changed: upstreams are told to ask again. */
  rootsChanged(view: CatalogView): void;
  /** Upstream calls of stateless clients waiting for the client's input. */
  readonly heldCalls: HeldCallRegistry;
  /** Seals and verifies (HMAC, expiry) the `requestState` of held calls. */
  readonly requestStateCodec: RequestStateCodec<HeldToolState>;
  /** Tool calls run as MCP tasks for stateless clients that support them; undefined: tasks are off. */
  readonly tasks: TaskService | undefined;
}

export interface SessionServerOptions {
  /**
   * Built for a 2025-era session (`initialize`), not for one stateless 2026-07-28 request: the
   * Tasks extension, which only the stateless face serves, is neither offered nor handled.
   */
  session?: boolean;
}

/**
 * Builds the MCP `Server` for one downstream session: every request is answered from the catalog
 * or forwarded to the upstream that owns the tool, prompt or resource, with progress, cancellation
 * and upstream-initiated requests tied to the calling session.
 */
export function createSessionServer(
  services: SessionServices,
  view: CatalogView,
  id: string,
  options: SessionServerOptions = {},
): DownstreamSession {
  // Tasks: offered by stateless servers only, and only when they are served (see tasks/).
  const servesTasks = services.tasks !== undefined && !options.session;
  const capabilities = {
    ...advertisedCapabilities(services.catalog, view),
    ...(servesTasks ? TASKS_CAPABILITY : {}),
  };
  const server = new Server(services.serverInfo, {
    capabilities,
    // A tampered or expired state is refused by the SDK with the specification's error.
    requestState: { verify: (state, ctx) => services.requestStateCodec.verify(state, ctx) },
    ...instructionsFor(services.catalog, view),
  });
  const session = new DownstreamSession(id, view, server);
  const { sessions } = services;

  // Upstreams are shared, so "the client's roots" are those of the most recently active session
  // that has them: a new such session, or one whose roots changed, makes upstreams ask again.
  server.oninitialized = () => {
    if (session.supports('roots/list')) services.rootsChanged(view);
  };
  server.setNotificationHandler('notifications/roots/list_changed', () => {
    session.lastActiveAt = Date.now();
    services.rootsChanged(view);
  });

  const upstreamFor = (name: string): Upstream => {
    const upstream = services.upstream(name);
    if (!upstream) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `upstream "${name}" was removed`);
    return upstream;
  };

  server.setRequestHandler('tools/list', async () => {
    services.touch(view);
    return view.toolsList();
  });

  server.setRequestHandler('tools/call', async (request, ctx) => {
    assertPermitted(ctx, 'mcp.tools.execute');
    // Tasks: a stateless client that declared the Tasks extension may be answered with a task.
    if (servesTasks && wantsTask(services, ctx)) return callToolAsTask(services, view, session, request, ctx);
    if (ctx.mcpReq.envelope) return callToolStateless(services, view, session, request, ctx);
    const { name, arguments: args } = request.params;
    const progressToken = request.params._meta?.progressToken;
    // Progress is relayed in order and flushed before the result: a client drops progress that
    // arrives after the response it belongs to.
    let relayed = Promise.resolve();
    try {
      const result = await invokeTool(services, view, name, args, {
        signal: ctx.mcpReq.signal,
        caller: callerOf(ctx),
        ...(session.logLevel ? { logLevel: session.logLevel } : {}),
        ...(progressToken === undefined
          ? {}
          : {
              onprogress: (progress) => {
                relayed = relayed
                  .then(() =>
                    ctx.mcpReq.notify({
                      method: 'notifications/progress',
                      params: { ...progress, progressToken },
                    }),
                  )
                  .catch(() => {});
              },
            }),
        track: (server) => {
          const call = sessions.beginCall(session, server, {
            supports: (method) => session.supports(method),
            ask: (method, params, signal) =>
              ctx.mcpReq.send({ method, params } as never, { signal }) as Promise<Record<string, unknown>>,
          });
          return () => sessions.endCall(call);
        },
      });
      await relayed;
      return result;
    } catch (error) {
      throw toProtocolError(error, view.resolveTool(name)?.server);
    }
  });

  // Tasks: tasks/get, tasks/update, tasks/cancel.
  if (servesTasks) registerTaskHandlers(server, services, view);

  // The SDK refuses handlers for capabilities the server does not declare, and a client must not
  // see a capability no upstream behind this endpoint offers.
  if (capabilities.prompts) {
    server.setRequestHandler('prompts/list', async () => {
      services.touch(view);
      return { prompts: view.prompts() };
    });

    server.setRequestHandler('prompts/get', async (request, ctx) => {
      const target = view.resolvePrompt(request.params.name);
      if (!target) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown prompt "${request.params.name}"`, {
          code: 'PROMPT_NOT_FOUND',
        });
      }
      // The upstream may ask the client for input on the way (forward-with-input.ts).
      return forwardWithInput(
        services,
        session,
        ctx,
        { key: `prompts/get ${request.params.name}`, server: target.server },
        (client, signal, meta) =>
          client.getPrompt(upstreamParams({ ...request.params, name: target.name }, ctx, meta), { signal }),
      );
    });
  }

  if (capabilities.resources) {
    server.setRequestHandler('resources/list', async () => {
      services.touch(view);
      return { resources: view.resources() };
    });

    server.setRequestHandler('resources/templates/list', async () => ({
      resourceTemplates: view.resourceTemplates(),
    }));

    server.setRequestHandler('resources/read', async (request, ctx) => {
      const target = resolveUriOrThrow(request.params.uri);
      const result = await forwardWithInput(
        services,
        session,
        ctx,
        { key: `resources/read ${request.params.uri}`, server: target.server },
        (client, signal, meta) =>
          client.readResource(upstreamParams({ ...request.params, uri: target.uri }, ctx, meta), { signal }),
      );
      if (isInputRequiredResult(result)) return result;
      return {
        ...result,
        contents: result.contents.map((c) => ({ ...c, uri: view.exposeUri(target.server, c.uri) })),
      };
    });

    server.setRequestHandler('resources/subscribe', async (request) => {
      const target = resolveSubscribable(services.catalog, view, request.params.uri);
      await sessions
        .subscribe(session, request.params.uri, target.server, target.uri)
        .catch((error: unknown) => {
          throw toProtocolError(error, target.server);
        });
      return {};
    });

    server.setRequestHandler('resources/unsubscribe', async (request) => {
      await sessions.unsubscribe(session, request.params.uri).catch((error: unknown) => {
        throw toProtocolError(error);
      });
      return {};
    });
  }

  if (capabilities.completions) {
    server.setRequestHandler('completion/complete', async (request, ctx) => {
      const { ref } = request.params;
      if (ref.type === 'ref/prompt') {
        const target = view.resolvePrompt(ref.name);
        if (!target) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown prompt "${ref.name}"`);
        return forward(target.server, ctx.mcpReq.signal, (client, signal) =>
          client.complete({ ...request.params, ref: { ...ref, name: target.name } }, { signal }),
        );
      }
      const target = resolveUriOrThrow(ref.uri);
      return forward(target.server, ctx.mcpReq.signal, (client, signal) =>
        client.complete({ ...request.params, ref: { ...ref, uri: target.uri } }, { signal }),
      );
    });
  }

  if (capabilities.logging) {
    server.setRequestHandler('logging/setLevel', async (request) => {
      session.logLevel = request.params.level as LoggingLevel;
      for (const name of view.serverNames()) services.applyLogLevel(name);
      return {};
    });
  }

  function resolveUriOrThrow(uri: string): { server: string; uri: string } {
    const target = view.resolveUri(uri);
    if (!target) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown resource "${uri}"`, {
        code: 'RESOURCE_NOT_FOUND',
        uri,
      });
    }
    return target;
  }

  async function forward<T>(
    name: string,
    callerSignal: AbortSignal,
    fn: Parameters<Upstream['call']>[0] extends (...args: infer A) => unknown
      ? (...args: A) => Promise<T>
      : never,
  ): Promise<T> {
    try {
      return await upstreamFor(name).call(fn, { signal: callerSignal });
    } catch (error) {
      throw toProtocolError(error, name);
    }
  }

  return session;
}

/** What the endpoint offers: what the upstreams it shows offer (unknown ones counted as offering). */
function advertisedCapabilities(catalog: Catalog, view: CatalogView): ServerCapabilities {
  let resources = false;
  let subscribe = false;
  let prompts = false;
  let completions = false;
  let logging = false;
  for (const name of view.serverNames()) {
    const caps = catalog.listing(name)?.capabilities;
    if (!caps) {
      resources = prompts = completions = logging = subscribe = true;
      continue;
    }
    resources ||= caps.resources !== undefined;
    subscribe ||= caps.resources?.subscribe === true;
    prompts ||= caps.prompts !== undefined;
    completions ||= caps.completions !== undefined;
    logging ||= caps.logging !== undefined;
  }
  return {
    tools: { listChanged: true },
    ...(resources ? { resources: { listChanged: true, ...(subscribe ? { subscribe: true } : {}) } } : {}),
    ...(prompts ? { prompts: { listChanged: true } } : {}),
    ...(completions ? { completions: {} } : {}),
    ...(logging ? { logging: {} } : {}),
  };
}

function instructionsFor(catalog: Catalog, view: CatalogView): { instructions?: string } {
  const parts = view
    .serverNames()
    .map((name) => ({ name, text: catalog.listing(name)?.instructions }))
    .filter((p): p is { name: string; text: string } => Boolean(p.text));
  if (parts.length === 0) return {};
  if (!view.spec.prefixed) return { instructions: parts.map((p) => p.text).join('\n\n') };
  return { instructions: parts.map((p) => `## ${p.name}\n${p.text}`).join('\n\n') };
}
