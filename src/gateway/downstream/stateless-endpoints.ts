import {
  type AuthInfo,
  createMcpHandler,
  type McpHttpHandler,
  type Server,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { ListKind } from '../catalog.ts';
import type { CatalogView } from '../view.ts';
import { toProtocolError } from './errors.ts';
import { resolveSubscribable, type SubscribableResource } from './resource-subscriptions.ts';
import { createSessionServer, type SessionServices } from './session-server.ts';
import { type FastAnswer, type PlainToolCall, serveFastToolCall } from './stateless-fast-call.ts';

/**
 * The 2026-07-28 (stateless) face of each endpoint: one SDK handler per view, serving every
 * request with a fresh per-request server built by the same `createSessionServer` the 2025
 * sessions use — one set of handlers for both eras. `list_changed` and `resources/updated` reach
 * stateless clients through their `subscriptions/listen` streams.
 */
export class StatelessEndpoints {
  readonly #services: SessionServices;
  readonly #logger: Logger;
  readonly #maxBodyBytes: number;
  readonly #handlers = new Map<string, { view: CatalogView; handler: McpHttpHandler }>();
  #requests = 0;

  constructor(services: SessionServices, logger: Logger, maxBodyBytes: number) {
    this.#services = services;
    this.#logger = logger;
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** The handler serving stateless requests on `view` (2025 traffic is routed elsewhere first). */
  handler(view: CatalogView): McpHttpHandler {
    let entry = this.#handlers.get(view.spec.id);
    if (!entry) {
      const sdk = createMcpHandler(() => this.server(view), {
        legacy: 'reject',
        maxRequestBodySize: this.#maxBodyBytes,
        onerror: (error) => this.#logger.debug({ err: error, endpoint: view.spec.id }, 'stateless request'),
      });
      // A listen request naming resources subscribes to them upstream first (see #listenToResources).
      const handler: McpHttpHandler = {
        ...sdk,
        fetch: (request, options) => {
          const listen = resourceListen(options?.parsedBody);
          return listen
            ? this.#listenToResources(view, sdk, listen, request, options)
            : sdk.fetch(request, options);
        },
      };
      entry = { view, handler };
      this.#handlers.set(view.spec.id, entry);
    }
    return entry.handler;
  }

  /** Serves a plain `tools/call` without a per-request server (see stateless-fast-call.ts). */
  serveToolCall(
    view: CatalogView,
    call: PlainToolCall,
    authInfo: AuthInfo | undefined,
    signal: AbortSignal,
  ): Promise<FastAnswer> {
    return serveFastToolCall(this.#services, view, call, authInfo, signal);
  }

  /**
   * A server for one stateless request (or a stateless stdio connection): the session handlers,
   * registered nowhere, since the protocol keeps nothing between requests.
   */
  server(view: CatalogView): Server {
    this.#services.touch(view);
    const { server } = createSessionServer(this.#services, view, `stateless-${++this.#requests}`);
    // Refused requestStates and other per-request failures: the wire gets the fixed message.
    server.onerror = (error) =>
      this.#logger.debug({ err: error, endpoint: view.spec.id }, 'stateless request');
    return server;
  }

  /** An upstream's lists changed: tell the listening stateless clients that can see it. */
  notifyListChanged(server: string, kinds: readonly ListKind[]): void {
    for (const { view, handler } of this.#handlers.values()) {
      if (!view.includes(server)) continue;
      for (const kind of kinds) {
        if (kind === 'tools') handler.notify.toolsChanged();
        else if (kind === 'prompts') handler.notify.promptsChanged();
        else handler.notify.resourcesChanged();
      }
    }
  }

  /** An upstream resource changed: tell the listen streams that subscribed to it, by the URI they know. */
  resourceUpdated(server: string, uri: string): void {
    for (const { view, handler } of this.#handlers.values()) {
      if (view.includes(server)) handler.notify.resourceUpdated(view.exposeUri(server, uri));
    }
  }

  /**
   * A `subscriptions/listen` whose filter names resources (`resourceSubscriptions`, as this view
   * shows them): each must be one an upstream offers (else -32602 naming it), and is subscribed
   * upstream, in the upstream's era and shared with every other subscriber, before the SDK opens
   * the stream and acknowledges; the stream ending (the client closing it, or Ziggie stopping)
   * releases them. The SDK's listen router delivers `resources/updated` to the streams whose filter
   * has the URI (see `resourceUpdated`).
   */
  async #listenToResources(
    view: CatalogView,
    sdk: McpHttpHandler,
    listen: ResourceListen,
    request: Request,
    options: Parameters<McpHttpHandler['fetch']>[1],
  ): Promise<Response> {
    const held: SubscribableResource[] = [];
    const release = () =>
      Promise.all(held.splice(0).map((t) => this.#services.upstream(t.server)?.unsubscribeResource(t.uri)));
    let current: SubscribableResource | undefined;
    try {
      const targets = listen.uris.map((uri) => resolveSubscribable(this.#services.catalog, view, uri));
      for (const target of targets) {
        current = target;
        const upstream = this.#services.upstream(target.server);
        if (!upstream) throw new Error('the server was removed');
        await upstream.subscribeResource(target.uri);
        held.push(target);
      }
    } catch (error) {
      await release();
      const { code, message, data } = toProtocolError(error, current?.server);
      return Response.json({ jsonrpc: '2.0', id: listen.id, error: { code, message, data } });
    }
    const response = await sdk.fetch(request, options);
    const streaming = response.headers.get('content-type')?.startsWith('text/event-stream');
    if (!response.body || !streaming) {
      await release();
      return response;
    }
    return new Response(
      onEnd(response.body, () => void release()),
      {
        status: response.status,
        headers: response.headers,
      },
    );
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#handlers.values()].map(({ handler }) => handler.close()));
    this.#handlers.clear();
  }
}

/** A `subscriptions/listen` request whose filter names resources. */
interface ResourceListen {
  id: string | number;
  uris: string[];
}

function resourceListen(body: unknown): ResourceListen | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { method, id, params } = body as { method?: unknown; id?: unknown; params?: unknown };
  if (method !== 'subscriptions/listen' || (typeof id !== 'string' && typeof id !== 'number'))
    return undefined;
  const uris = (params as { notifications?: { resourceSubscriptions?: unknown } } | undefined)?.notifications
    ?.resourceSubscriptions;
  if (!Array.isArray(uris) || uris.length === 0 || !uris.every((u) => typeof u === 'string'))
    return undefined;
  return { id, uris: [...new Set(uris as string[])] };
}

/** The same stream, calling `done` once when it ends: read to its end, errored or cancelled. */
function onEnd(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    done();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: finished, value } = await reader.read();
        if (finished) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
}
