import {
  type LoggingLevel,
  ProtocolError,
  ProtocolErrorCode,
  SUBSCRIPTION_ID_META_KEY,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { ZiggieError } from '../../core/errors.ts';
import type { ListKind } from '../catalog.ts';
import type { Upstream, UpstreamClientRequestMethod } from '../upstream/types.ts';
import type { CatalogView } from '../view.ts';
import { type DownstreamSession, LOG_SEVERITY } from './session.ts';

/**
 * How a downstream call answers its upstream's requests for client input. A 2025 session sends
 * them to the client on the call's own stream; a stateless 2026 call holds the upstream request and
 * answers its client with `input_required` (see held-calls.ts). The routing below is the same.
 */
export interface ClientAsker {
  supports(method: UpstreamClientRequestMethod): boolean;
  /**
   * An upstream log message while the call runs. Only stateless calls take it here: a 2025
   * session gets every message of the servers it sees (below), in or out of a call.
   */
  log?(params: Record<string, unknown>): void;
  ask(
    method: UpstreamClientRequestMethod,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    /** The key a 2026 upstream gave the request (see `UpstreamHooks.onClientRequest`). */
    name?: string,
  ): Promise<
    Record<string, unknown>
  > /** The upstream asked the calling client for `method`, which it did not declare: Ziggie refused it. */;
  refused?(method: UpstreamClientRequestMethod): void;
}

/** Where a call comes from: a session, a stateless request, or a REST caller (no session). */
export interface CallOrigin {
  readonly view: CatalogView;
  lastActiveAt?: number;
}

/**
 * A notification's params without the upstream's `subscriptionId` (the id of Ziggie's own listen
 * stream upstream, meaningless to a client; a listen stream downstream gets its own).
 */
export function withoutSubscriptionId(params: Record<string, unknown> | undefined): Record<string, unknown> {
  const { _meta, ...others } = params ?? {};
  const meta = _meta as Record<string, unknown> | undefined;
  if (!meta || !(SUBSCRIPTION_ID_META_KEY in meta)) return { ...params };
  const { [SUBSCRIPTION_ID_META_KEY]: _upstreams, ...rest } = meta;
  return Object.keys(rest).length > 0 ? { ...others, _meta: rest } : others;
}

/** The client capability each server-to-client request needs. */
const CAPABILITY_OF: Record<UpstreamClientRequestMethod, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** A downstream call in flight on an upstream: where upstream-initiated requests are routed. */
export interface InFlightCall {
  origin: CallOrigin;
  server: string;
  asker: ClientAsker;
}

/** A caller that cannot answer anything an upstream asks (REST, the CLI). */
export const NO_CLIENT_INPUT: ClientAsker = {
  supports: () => false,
  ask: () => Promise.reject(new Error('this caller takes no input requests')),
};

/**
 * Connected downstream sessions, and the routing of traffic upstreams start on their own:
 * server-to-client requests go to the session whose call caused them (the most recent call in
 * flight on that upstream; its request stream carries them), notifications to the sessions whose
 * view includes the server, resource updates to the sessions that subscribed.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, DownstreamSession>();
  readonly #inFlight = new Map<string, Set<InFlightCall>>();
  readonly #upstream: (name: string) => Upstream | undefined;
  readonly #logger: Logger;

  constructor(upstream: (name: string) => Upstream | undefined, logger: Logger) {
    this.#upstream = upstream;
    this.#logger = logger;
  }

  get size(): number {
    return this.#sessions.size;
  }

  all(): IterableIterator<DownstreamSession> {
    return this.#sessions.values();
  }

  has(session: DownstreamSession): boolean {
    return this.#sessions.get(session.id) === session;
  }

  add(session: DownstreamSession): void {
    this.#sessions.set(session.id, session);
  }

  async remove(session: DownstreamSession): Promise<void> {
    if (!this.#sessions.delete(session.id)) return;
    for (const uri of [...session.subscriptions.keys()]) await this.unsubscribe(session, uri).catch(() => {});
  }

  beginCall(origin: CallOrigin, server: string, asker: ClientAsker): InFlightCall {
    const call = { origin, server, asker };
    let calls = this.#inFlight.get(server);
    if (!calls) {
      calls = new Set();
      this.#inFlight.set(server, calls);
    }
    calls.add(call);
    origin.lastActiveAt = Date.now();
    return call;
  }

  endCall(call: InFlightCall): void {
    this.#inFlight.get(call.server)?.delete(call);
  }

  /** Forwards an upstream's sampling/elicitation/roots request to the right client. */
  async forwardClientRequest(
    server: string,
    method: UpstreamClientRequestMethod,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    name?: string,
  ): Promise<Record<string, unknown>> {
    const calls = [...(this.#inFlight.get(server) ?? [])].reverse();
    const call = calls.find((c) => c.asker.supports(method));
    if (call) return call.asker.ask(method, params, signal, name);
    if (calls.length > 0) {
      // Told to the most recent call, the one a 2025 upstream's unattributed request most likely serves.
      calls[0]?.asker.refused?.(method);
      // requiredCapabilities as the 2026-07-28 MissingRequiredClientCapabilityError (-32021) has it.
      throw new ZiggieError(
        'CLIENT_CAPABILITY_MISSING',
        `the client calling "${server}" does not support ${method}`,
        { server, method, requiredCapabilities: { [CAPABILITY_OF[method]]: {} } },
      );
    }
    if (method === 'roots/list') {
      // Roots are asked for outside calls too (after roots/list_changed): use the most recently active
      // session that can see this server and declared roots.
      const session = [...this.#sessions.values()]
        .filter((s) => s.view.includes(server) && s.supports('roots/list'))
        .sort((a, b) => b.lastActiveAt - a.lastActiveAt)[0];
      if (session) return (await session.server.listRoots(undefined, { signal })) as Record<string, unknown>;
      return { roots: [] };
    }
    throw new ProtocolError(
      ProtocolErrorCode.InvalidRequest,
      `no client call to "${server}" is in flight to route ${method} to`,
    );
  }

  /** Delivers an upstream notification to the sessions that should see it. */
  forwardNotification(server: string, method: string, params: Record<string, unknown> | undefined): void {
    if (method === 'notifications/message') {
      const level = (params?.level ?? 'info') as LoggingLevel;
      // On the aggregate endpoint the logger names the server it came from.
      const message = ({ view }: CallOrigin) => {
        const logger = view.spec.prefixed
          ? [server, params?.logger].filter(Boolean).join('/')
          : (params?.logger as string | undefined);
        return { ...params, level, ...(logger ? { logger } : {}) };
      };
      for (const session of this.#sessions.values()) {
        if (!session.view.includes(server) || !session.wantsLog(level)) continue;
        this.#send(session, { method: 'notifications/message', params: message(session) });
      }
      for (const call of this.#inFlight.get(server) ?? []) call.asker.log?.(message(call.origin));
    } else if (method === 'notifications/resources/updated') {
      const uri = String(params?.uri ?? '');
      const rest = withoutSubscriptionId(params);
      for (const session of this.#sessions.values()) {
        const exposed = session.view.exposeUri(server, uri);
        const target = session.subscriptions.get(exposed);
        if (target?.server === server) {
          this.#send(session, {
            method: 'notifications/resources/updated',
            params: { ...rest, uri: exposed },
          });
        }
      }
    }
  }

  /** Tells sessions that can see `server` that its lists changed. */
  notifyListChanged(server: string, kinds: readonly ListKind[]): void {
    for (const session of this.#sessions.values()) {
      if (!session.view.includes(server)) continue;
      for (const kind of kinds) this.#send(session, { method: `notifications/${kind}/list_changed` });
    }
  }

  /**
   * Subscribes a session to a resource: the upstream holds one subscription per URI for all its
   * subscribers, sessions and stateless listen streams alike, made in the upstream's era.
   */
  async subscribe(
    session: DownstreamSession,
    exposedUri: string,
    server: string,
    uri: string,
  ): Promise<void> {
    if (session.subscriptions.has(exposedUri)) return;
    const upstream = this.#upstream(server);
    if (!upstream)
      throw new ZiggieError('UPSTREAM_NOT_FOUND', `upstream "${server}" was removed`, { server });
    // Taken before the upstream answers, so a second subscribe meanwhile does not hold it twice.
    session.subscriptions.set(exposedUri, { server, uri });
    try {
      await upstream.subscribeResource(uri);
    } catch (error) {
      session.subscriptions.delete(exposedUri);
      throw error;
    }
  }

  async unsubscribe(session: DownstreamSession, exposedUri: string): Promise<void> {
    const target = session.subscriptions.get(exposedUri);
    if (!target) return;
    session.subscriptions.delete(exposedUri);
    await this.#upstream(target.server)?.unsubscribeResource(target.uri);
  }

  /** The most verbose level any session that can see `server` asked for (what the upstream should send). */
  upstreamLogLevel(server: string): LoggingLevel | undefined {
    let min: LoggingLevel | undefined;
    for (const session of this.#sessions.values()) {
      if (!session.logLevel || !session.view.includes(server)) continue;
      if (!min || LOG_SEVERITY[session.logLevel] < LOG_SEVERITY[min]) min = session.logLevel;
    }
    return min;
  }

  #send(
    session: DownstreamSession,
    notification: { method: string; params?: Record<string, unknown> },
  ): void {
    session.server.notification(notification as never).catch((error: unknown) => {
      this.#logger.debug({ err: error, session: session.id }, 'could not deliver a notification to a client');
    });
  }
}
