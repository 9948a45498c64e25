import {
  type AuthInfo,
  createMcpHandler,
  type McpHttpHandler,
  type ProtocolError,
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
  readonly #stdio = new Set<{ view: CatalogView; server: Server }>();
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
    for (const { view, server: stdio } of this.#stdio) {
      if (!view.includes(server)) continue;
      for (const kind of kinds) {
        const sent =
          kind === 'tools'
            ? stdio.sendToolListChanged()
            : kind === 'prompts'
              ? stdio.sendPromptListChanged()
              : stdio.sendResourceListChanged();
        void Promise.resolve(sent).catch(() => {});
      }
    }
  }

  /** An upstream resource changed: tell the listen streams that subscribed to it, by the URI they know. */
  resourceUpdated(server: string, uri: string): void {
    for (const { view, handler } of this.#handlers.values()) {
      if (view.includes(server)) handler.notify.resourceUpdated(view.exposeUri(server, uri));
    }
    for (const { view, server: stdio } of this.#stdio) {
      if (view.includes(server))
        void stdio.sendResourceUpdated({ uri: view.exposeUri(server, uri) }).catch(() => {});
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
    let release: () => Promise<void>;
    try {
      release = await this.holdResources(view, listen.uris);
    } catch (error) {
      const { code, message, data } = error as ProtocolError;
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

  /**
   * Subscribes upstream to the resources a listen filter names (as `view` shows them), each in its
   * upstream's era and shared with every other subscriber; resolves with what releases them. A URI
   * no upstream offers, or a failed subscribe, releases what was taken and throws the protocol
   * error for the client (-32602 naming the URI).
   */
  async holdResources(view: CatalogView, uris: readonly string[]): Promise<() => Promise<void>> {
    const held: SubscribableResource[] = [];
    const release = async () => {
      await Promise.all(
        held.splice(0).map((t) => this.#services.upstream(t.server)?.unsubscribeResource(t.uri)),
      );
    };
    let current: SubscribableResource | undefined;
    try {
      const targets = uris.map((uri) => resolveSubscribable(this.#services.catalog, view, uri));
      for (const target of targets) {
        current = target;
        const upstream = this.#services.upstream(target.server);
        if (!upstream) throw new Error('the server was removed');
        await upstream.subscribeResource(target.uri);
        held.push(target);
      }
    } catch (error) {
      await release();
      throw toProtocolError(error, current?.server);
    }
    return release;
  }

  /**
   * A stateless stdio connection's server (`ziggie mcp`): the SDK's stdio entry routes what it sends
   * (list changes, resource updates) onto the connection's listen subscriptions, so it is told what
   * the HTTP handlers are told. The return detaches it.
   */
  attachStdio(view: CatalogView, server: Server): () => void {
    const entry = { view, server };
    this.#stdio.add(entry);
    return () => this.#stdio.delete(entry);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#handlers.values()].map(({ handler }) => handler.close()));
    this.#handlers.clear();
    this.#stdio.clear();
  }
}

/** A `subscriptions/listen` request whose filter names resources. */
export interface ResourceListen {
  id: string | number;
  uris: string[];
}

export function resourceListen(body: unknown): ResourceListen | undefined {
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
