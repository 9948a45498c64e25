import type { Client, Transport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import {
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type TimeoutPolicy,
  TimeoutStrategy,
  timeout,
} from 'cockatiel';
import type { Logger } from 'pino';
import { ZiggieError } from '../../core/errors.ts';
import type { UpstreamSpec } from '../../core/upstream-spec.ts';
import { restartDelay } from './backoff.ts';
import { isBreakerFailure, mapCallError } from './call-errors.ts';
import { createTransport } from './create-transport.ts';
import { processTree, terminate, trackChild, untrackChild } from './process-tree.ts';
import type { Upstream, UpstreamHooks, UpstreamState, UpstreamStatus, UpstreamTimings } from './types.ts';
import {
  createUpstreamClient,
  listenForListChanges,
  type NegotiatedInfo,
  negotiatedInfo,
} from './upstream-client.ts';

/** A connection that lived this long resets the restart backoff when it drops. */
const STABLE_CONNECTION_MS = 30_000;
/** Time a stdio child gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2000;

/** One client + transport pair: single-use, replaced on every reconnect. */
interface Link {
  client: Client;
  transport: Transport;
  pid?: number;
  closing?: Promise<void>;
}

/** Thrown inside the policy when the caller aborted, so the breaker does not count it. */
class CallerAborted extends Error {}

/** One upstream MCP server: connects, watches its health, restarts it, and runs calls through timeout + breaker. */
export class UpstreamConnection implements Upstream {
  readonly spec: UpstreamSpec;
  readonly #timings: UpstreamTimings;
  readonly #hooks: UpstreamHooks;
  readonly #log: Logger;
  readonly #callTimeoutMs: number;
  readonly #timeout: TimeoutPolicy;
  readonly #breaker: CircuitBreakerPolicy;
  #state: UpstreamState = 'not_started';
  #reason: string | undefined;
  #restarts = 0;
  /** Consecutive restarts without a stable connection: the backoff exponent. */
  #attempt = 0;
  /** Bumped by every connect and by stop(), so events of an older link are ignored. */
  #generation = 0;
  #link: Link | undefined;
  #info: NegotiatedInfo = {};
  #connectedAt: Date | undefined;
  #lastPingMs: number | undefined;
  #connecting: Promise<void> | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(spec: UpstreamSpec, timings: UpstreamTimings, hooks: UpstreamHooks, logger: Logger) {
    this.spec = spec;
    this.#timings = timings;
    this.#hooks = hooks;
    this.#log = logger.child({ upstream: spec.name });
    this.#callTimeoutMs = spec.timeoutMs ?? timings.callTimeoutMs;
    // Aggressive: the call fails at the deadline and its signal aborts, so the SDK cancels upstream.
    this.#timeout = timeout(this.#callTimeoutMs, TimeoutStrategy.Aggressive);
    this.#breaker = circuitBreaker(handleWhen(isBreakerFailure), {
      halfOpenAfter: timings.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(timings.breakerThreshold),
    });
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
    this.#reason = undefined;
    this.#setState('stopped');
    if (link) await this.#close(link);
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
    const callerSignal = options?.signal;
    try {
      return await this.#breaker.execute(async () => {
        try {
          return await this.#timeout.execute(({ signal }) => fn(client, signal), callerSignal);
        } catch (error) {
          if (callerSignal?.aborted) throw new CallerAborted('aborted by the caller', { cause: error });
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof CallerAborted) throw callerSignal?.reason ?? error;
      throw mapCallError(error, this.spec.name, this.#callTimeoutMs, this.#timings.breakerHalfOpenAfterMs);
    }
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
    let closedEarly = false;
    client.onclose = () => {
      closedEarly = true;
      this.#lost(generation, 'the connection closed');
    };
    client.onerror = (error) => this.#log.debug({ err: error }, 'upstream transport error');
    try {
      const ms = this.#timings.connectTimeoutMs;
      await withDeadline(client.connect(transport, { timeout: ms }), ms, `no handshake within ${ms} ms`);
      if (closedEarly) throw new Error('the connection closed during the handshake');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (generation === this.#generation) {
        this.#link = undefined;
        this.#log.warn({ err: error }, 'upstream connect failed');
        this.#setState('unhealthy', reason);
        void this.#close(link).then(() => this.#scheduleRestart(generation));
      } else {
        void this.#close(link);
      }
      throw this.#unavailable(reason, { cause: error });
    }
    if (transport instanceof StdioClientTransport && transport.pid !== null) {
      link.pid = transport.pid;
      trackChild(link.pid);
    }
    this.#info = negotiatedInfo(client);
    this.#connectedAt = new Date();
    this.#setState('healthy');
    this.#scheduleHealthCheck(generation);
    if (this.#info.era === '2026') this.#listen(generation, client);
  }

  /** A healthy link failed: mark it, close it, and restart after the backoff. */
  #lost(generation: number, reason: string): void {
    if (generation !== this.#generation || this.#state !== 'healthy') return;
    clearTimeout(this.#healthTimer);
    if (this.#connectedAt && Date.now() - this.#connectedAt.getTime() > STABLE_CONNECTION_MS)
      this.#attempt = 0;
    const link = this.#link;
    this.#link = undefined;
    this.#log.warn({ reason }, 'upstream unhealthy');
    this.#setState('unhealthy', reason);
    void (link ? this.#close(link) : Promise.resolve()).then(() => this.#scheduleRestart(generation));
  }

  #scheduleRestart(generation: number): void {
    if (generation !== this.#generation) return;
    const delay = restartDelay(
      this.#attempt++,
      this.#timings.restartInitialDelayMs,
      this.#timings.restartMaxDelayMs,
    );
    this.#setState('restarting', this.#reason);
    this.#restartTimer = setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#restarts++;
      this.#connect().catch(() => {
        // Already logged; the failed attempt scheduled the next one.
      });
    }, delay);
    this.#restartTimer.unref();
  }

  #scheduleHealthCheck(generation: number): void {
    const interval = this.#timings.healthIntervalMs;
    if (interval <= 0) return;
    this.#healthTimer = setTimeout(async () => {
      const client = this.#link?.client;
      if (generation !== this.#generation || !client) return;
      const started = performance.now();
      const options = { timeout: Math.min(this.#timings.connectTimeoutMs, this.#callTimeoutMs) };
      try {
        // `ping` is a 2025-era method; a 2026 server is probed with `server/discover` instead.
        await (this.#info.era === '2026' ? client.discover(options) : client.ping(options));
      } catch (error) {
        this.#lost(
          generation,
          `health check failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        return;
      }
      this.#lastPingMs = Math.round((performance.now() - started) * 1000) / 1000;
      this.#scheduleHealthCheck(generation);
    }, interval);
    this.#healthTimer.unref();
  }

  #listen(generation: number, client: Client): void {
    listenForListChanges(client, this.#timings.connectTimeoutMs).then(
      (subscription) =>
        subscription?.closed.then((how) => {
          if (how === 'remote') this.#lost(generation, 'the notification stream closed');
        }),
      (error: unknown) => this.#log.warn({ err: error }, 'upstream subscriptions/listen failed'),
    );
  }

  /** Closes a link once; for stdio, the child and its descendants get SIGTERM, then SIGKILL. */
  #close(link: Link): Promise<void> {
    link.closing ??= (async () => {
      const pid = link.pid ?? (link.transport instanceof StdioClientTransport ? link.transport.pid : null);
      const tree = pid ? processTree(pid) : [];
      const closing = link.client.close().catch(() => {});
      await terminate(tree, KILL_GRACE_MS);
      await closing;
      if (pid) untrackChild(pid);
    })();
    return link.closing;
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
    const why = reason === undefined ? '' : `: ${reason}`;
    return new ZiggieError(
      'UPSTREAM_UNAVAILABLE',
      `upstream "${this.spec.name}" is ${state}${why}`,
      { server: this.spec.name, state },
      options,
    );
  }
}

/** Rejects with `message` when `promise` has not settled within `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Stops every upstream (shutdown); never rejects. */
export async function stopAll(upstreams: Iterable<Upstream>): Promise<void> {
  await Promise.allSettled([...upstreams].map((upstream) => upstream.stop()));
}
