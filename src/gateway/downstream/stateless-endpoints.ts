import {
  type AuthInfo,
  createMcpHandler,
  type McpHttpHandler,
  type Server,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { ListKind } from '../catalog.ts';
import type { CatalogView } from '../view.ts';
import { createSessionServer, type SessionServices } from './session-server.ts';
import { type FastAnswer, type PlainToolCall, serveFastToolCall } from './stateless-fast-call.ts';

/**
 * The 2026-07-28 (stateless) face of each endpoint: one SDK handler per view, serving every
 * request with a fresh per-request server built by the same `createSessionServer` the 2025
 * sessions use — one set of handlers for both eras. `list_changed` reaches stateless clients
 * through their `subscriptions/listen` streams.
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
      const handler = createMcpHandler(() => this.server(view), {
        legacy: 'reject',
        maxRequestBodySize: this.#maxBodyBytes,
        onerror: (error) => this.#logger.debug({ err: error, endpoint: view.spec.id }, 'stateless request'),
      });
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

  async close(): Promise<void> {
    await Promise.allSettled([...this.#handlers.values()].map(({ handler }) => handler.close()));
    this.#handlers.clear();
  }
}
