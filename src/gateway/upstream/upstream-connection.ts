import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  type Client,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import { ZiggieError } from '../../core/errors.ts';
import type { UpstreamSpec } from '../../core/upstream-spec.ts';
import { restartDelay } from './backoff.ts';
import { CallPolicy } from './call-policy.ts';
import { createTransport } from './create-transport.ts';
import { RawChannel } from './raw-channel.ts';
import { ResourceHolds, type UpstreamResourceSubscription } from './resource-holds.ts';
import type {
  RawRequestOptions,
  RawResult,
  Upstream,
  UpstreamHooks,
  UpstreamState,
  UpstreamStatus,
  UpstreamTimings,
} from './types.ts';
import {
  CLIENT_CAPABILITIES,
  CLIENT_INFO,
  createUpstreamClient,
  listenForListChanges,
  type NegotiatedInfo,
  negotiatedInfo,
} from './upstream-client.ts';
import { adoptChild, closeLink, deferResponses, type Link, withDeadline } from './upstream-link.ts';

/** A connection that lived this long resets the restart backoff when it drops. */
const STABLE_CONNECTION_MS = 30_000;

/**
 * One upstream MCP server: connects, watches its health, restarts it with backoff, and runs calls
 * through the per-call timeout and circuit breaker. Every state change goes to `hooks.onStateChange`.
 */
export class UpstreamConnection implements Upstream {
  readonly spec: UpstreamSpec;
  readonly #timings: UpstreamTimings;
  readonly #hooks: UpstreamHooks;
  readonly #log: Logger;
  readonly #policy: CallPolicy;
  readonly #healthTimeoutMs: number;
  #state: UpstreamState = 'not_started';
  #reason: string | undefined;
  #restarts = 0;
  /** Restarts since the last stable connection: the backoff exponent. */
  #attempt = 0;
  /** Bumped by every connect and by stop(), so late events of an older link are ignored. */
  #generation = 0;
  #link: Link | undefined;
  #info: NegotiatedInfo = {};
  #connectedAt: Date | undefined;
  #lastPingMs: number | undefined;
  #connecting: Promise<void> | undefined;
  /**
   * Set once an `auto` upstream answered as 2025: reconnects skip the `server/discover` probe
   * (on stdio a second process spawn) and go straight to `initialize`, which still proves liveness.
   */
  #knownLegacy = false;
  #healthTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Resource subscriptions held upstream for downstream subscribers, made again on reconnect. */
  readonly #resources: ResourceHolds;

  constructor(spec: UpstreamSpec, timings: UpstreamTimings, hooks: UpstreamHooks, logger: Logger) {
    this.spec = spec;
    this.#timings = timings;
    this.#hooks = hooks;
    // Every line names the server; the gateway may have bound it already.
    this.#log = logger.bindings().upstream === spec.name ? logger : logger.child({ upstream: spec.name });
    const callTimeoutMs = spec.timeoutMs ?? timings.callTimeoutMs;
    this.#policy = new CallPolicy(spec.name, callTimeoutMs, timings);
    this.#healthTimeoutMs = Math.min(timings.connectTimeoutMs, callTimeoutMs);
    this.#resources = new ResourceHolds(
      { open: (uri) => this.#openResourceSubscription(uri), link: () => this.#generation },
      this.#log,
    );
  }

  status(): UpstreamStatus {
    return {
      name: this.spec.name,
      state: this.#state,
      ...(this.#reason !== undefined ? { reason: this.#reason } : {}),
      ...this.#info,
      restarts: this.#restarts,
      ...(this.#connectedAt ? { connectedAt: this.#connectedAt } : {}),
      ...(this.#lastPingMs !== undefined ? { lastPingMs: this.#lastPingMs } : {}),
    };
  }

  start(): Promise<void> {
    if (!this.spec.enabled) return Promise.reject(this.#unavailable('disabled'));
    if (this.#state === 'healthy') return Promise.resolve();
    if (this.#connecting) return this.#connecting;
    // Also cuts a pending restart's backoff short.
    clearTimeout(this.#restartTimer);
    return this.#connect();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#generation++;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#healthTimer);
    const link = this.#link;
    this.#link = undefined;
    this.#setState('stopped');
    if (link) await closeLink(link);
  }

  async call<T>(
    fn: (client: Client, signal: AbortSignal) => Promise<T>,
    options?: { signal?: AbortSignal },
  ): Promise<T> {
    if (!this.spec.enabled) throw this.#unavailable('disabled');
    if (this.#state === 'not_started') await this.start();
    // Callers arriving during the first connect wait for it; during an outage they fail at once.
    else if (this.#state === 'connecting' && this.#restarts === 0 && this.#connecting) await this.#connecting;
    const client = this.#link?.client;
    if (this.#state !== 'healthy' || !client) throw this.#unavailable(this.#reason);
    return this.#policy.run((signal) => fn(client, signal), options?.signal);
  }

  async rawRequest(
    method: string,
    params: Record<string, unknown>,
    options: RawRequestOptions = {},
  ): Promise<RawResult> {
    const { client, raw } = await this.#connected();
    const version = client.getNegotiatedProtocolVersion();
    if (!raw || client.getProtocolEra() !== 'modern' || !version) {
      throw new ZiggieError(
        'UPSTREAM_ERROR',
        `upstream "${this.spec.name}" speaks the 2025 protocol: ${method} cannot be sent to it`,
        { server: this.spec.name },
      );
    }
    const envelope = {
      [PROTOCOL_VERSION_META_KEY]: version,
      [CLIENT_INFO_META_KEY]: CLIENT_INFO,
      [CLIENT_CAPABILITIES_META_KEY]: options.clientCapabilities ?? CLIENT_CAPABILITIES,
    };
    const meta = (params._meta ?? {}) as Record<string, unknown>;
    const framed = { ...params, _meta: { ...meta, ...envelope } };
    return this.#policy.run(
      (signal) => raw.request(method, framed, signal, { [PROTOCOL_VERSION_META_KEY]: version }),
      options.signal,
    );
  }

  subscribeResource(uri: string): Promise<void> {
    return this.#resources.acquire(uri);
  }

  unsubscribeResource(uri: string): Promise<void> {
    return this.#resources.release(uri);
  }

  subscribedResources(): string[] {
    return this.#resources.uris();
  }

  /**
   * One resource subscription in the upstream's era: `resources/subscribe` on a 2025 link; on a
   * 2026-07-28 link (which has no `resources/subscribe`) a `subscriptions/listen` stream whose
   * filter names the URI, its `notifications/resources/updated` dispatched to the client's
   * notification handlers like the 2025 ones. Losing that stream is losing the link.
   */
  async #openResourceSubscription(uri: string): Promise<UpstreamResourceSubscription> {
    const { client } = await this.#connected();
    const link = this.#generation;
    if (client.getProtocolEra() !== 'modern') {
      await this.call((c, signal) => c.subscribeResource({ uri }, { signal }));
      return {
        link,
        close: async () => {
          await this.call((c, signal) => c.unsubscribeResource({ uri }, { signal }));
        },
      };
    }
    const timeout = this.spec.timeoutMs ?? this.#timings.callTimeoutMs;
    const subscription = await client.listen({ resourceSubscriptions: [uri] }, { timeout });
    if (!subscription.honoredFilter.resourceSubscriptions?.includes(uri)) {
      await subscription.close();
      throw new ZiggieError(
        'UPSTREAM_ERROR',
        `upstream "${this.spec.name}" does not offer a subscription to resource "${uri}"`,
        { server: this.spec.name, uri },
      );
    }
    let closing = false;
    void subscription.closed.then((how) => {
      if (!closing && how !== 'local') this.#fail(link, 'a resource subscription stream closed');
    });
    return {
      link,
      close: () => {
        closing = true;
        return subscription.close();
      },
    };
  }

  /** The healthy link, as `call` gets it (kept apart from `call`, the hot path). */
  async #connected(): Promise<Link> {
    if (!this.spec.enabled) throw this.#unavailable('disabled');
    if (this.#state === 'not_started') await this.start();
    // Callers arriving during the first connect wait for it; during an outage they fail at once.
    else if (this.#state === 'connecting' && this.#restarts === 0 && this.#connecting) await this.#connecting;
    const link = this.#link;
    if (this.#state !== 'healthy' || !link) throw this.#unavailable(this.#reason);
    return link;
  }

  #connect(): Promise<void> {
    const connecting = this.#attemptConnect().finally(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    this.#connecting = connecting;
    return connecting;
  }

  async #attemptConnect(): Promise<void> {
    const generation = ++this.#generation;
    this.#info = {};
    this.#connectedAt = undefined;
    this.#setState('connecting', this.#reason);
    const transport = createTransport(this.spec, (line) =>
      this.#log.debug({ stderr: line }, 'upstream stderr'),
    );
    const client = createUpstreamClient(this.spec.name, this.spec.protocol, this.#hooks);
    const link: Link = { client, transport };
    this.#link = link;
    let closed = false;
    // A crashed stdio child, a dropped socket: the transport's close reaches us here at once.
    // While connecting, the failed handshake below reports the real reason instead.
    client.onclose = () => {
      closed = true;
      if (this.#state === 'healthy') this.#fail(generation, 'the connection closed');
    };
    client.onerror = (error) => this.#log.debug({ err: error }, 'upstream transport error');
    try {
      const ms = this.#timings.connectTimeoutMs;
      const prior = this.#knownLegacy ? { prior: { kind: 'legacy' as const } } : {};
      await withDeadline(
        client.connect(transport, { timeout: ms, ...prior }),
        ms,
        `no handshake within ${ms} ms`,
      );
      if (closed) throw new Error('the connection closed during the handshake');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#log.warn({ err: error }, 'upstream connect failed');
      if (generation === this.#generation) this.#fail(generation, reason);
      else void closeLink(link);
      throw this.#unavailable(reason, { cause: error });
    }
    adoptChild(link);
    deferResponses(transport);
    if (client.getProtocolEra() === 'modern') link.raw = new RawChannel(transport);
    this.#info = negotiatedInfo(client);
    this.#knownLegacy = this.spec.protocol === 'auto' && this.#info.era === '2025';
    this.#connectedAt = new Date();
    this.#setState('healthy');
    this.#scheduleHealthCheck(generation);
    if (this.#info.era === '2026') this.#listen(generation, client);
    this.#resources.reestablish();
  }

  /** The current link failed (connecting or connected): mark it, close it, restart after the backoff. */
  #fail(generation: number, reason: string): void {
    if (generation !== this.#generation || (this.#state !== 'healthy' && this.#state !== 'connecting'))
      return;
    clearTimeout(this.#healthTimer);
    const lasted = this.#connectedAt ? Date.now() - this.#connectedAt.getTime() : 0;
    if (lasted > STABLE_CONNECTION_MS) this.#attempt = 0;
    const link = this.#link;
    this.#link = undefined;
    if (this.#state === 'healthy') this.#log.warn({ reason }, 'upstream unhealthy');
    this.#setState('unhealthy', reason);
    void (link ? closeLink(link) : Promise.resolve()).then(() => this.#scheduleRestart(generation));
  }

  #scheduleRestart(generation: number): void {
    if (generation !== this.#generation) return;
    const { restartInitialDelayMs, restartMaxDelayMs } = this.#timings;
    const delay = restartDelay(this.#attempt++, restartInitialDelayMs, restartMaxDelayMs);
    this.#setState('restarting', this.#reason);
    this.#restartTimer = setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#restarts++;
      this.#connect().catch(() => {
        // Logged by the attempt, which also scheduled the next one.
      });
    }, delay);
    this.#restartTimer.unref();
  }

  #scheduleHealthCheck(generation: number): void {
    if (this.#timings.healthIntervalMs <= 0) return;
    this.#healthTimer = setTimeout(async () => {
      const client = this.#link?.client;
      if (generation !== this.#generation || !client) return;
      const started = performance.now();
      const options = { timeout: this.#healthTimeoutMs };
      try {
        // `ping` is a 2025-era method; a 2026 server is asked for `server/discover` instead.
        await (this.#info.era === '2026' ? client.discover(options) : client.ping(options));
      } catch (error) {
        this.#fail(
          generation,
          `health check failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        return;
      }
      this.#lastPingMs = Math.round((performance.now() - started) * 100) / 100;
      this.#scheduleHealthCheck(generation);
    }, this.#timings.healthIntervalMs);
    this.#healthTimer.unref();
  }

  /** 2026 upstreams stream `list_changed` only on `subscriptions/listen`; losing that stream is a failure. */
  #listen(generation: number, client: Client): void {
    listenForListChanges(client, this.#timings.connectTimeoutMs).then(
      (subscription) =>
        subscription?.closed.then((how) => {
          if (how === 'remote') this.#fail(generation, 'the notification stream closed');
        }),
      (error: unknown) => this.#log.warn({ err: error }, 'upstream subscriptions/listen failed'),
    );
  }

  #setState(state: UpstreamState, reason?: string): void {
    this.#state = state;
    this.#reason = reason;
    try {
      this.#hooks.onStateChange(this.status());
    } catch (error) {
      this.#log.error({ err: error }, 'onStateChange hook threw');
    }
  }

  #unavailable(reason: string | undefined, options?: { cause?: unknown }): ZiggieError {
    const state = this.#state;
    const message = `upstream "${this.spec.name}" is ${state}${reason === undefined ? '' : `: ${reason}`}`;
    return new ZiggieError('UPSTREAM_UNAVAILABLE', message, { server: this.spec.name, state }, options);
  }
}

/** Stops every upstream (shutdown); never rejects. */
export async function stopAll(upstreams: Iterable<Upstream>): Promise<void> {
  await Promise.allSettled([...upstreams].map((upstream) => upstream.stop()));
}
