import type { Client, ClientCapabilities } from '@modelcontextprotocol/client';
import type { UpstreamSpec } from '../../core/upstream-spec.ts';

/**
 * The contract between the gateway and one upstream MCP server connection.
 * `upstream-connection.ts` implements it; the catalog and session bridge only use this file.
 */

/** Lifecycle states; the names are what `GET /api/mcp/health` and the metrics report. */
export type UpstreamState =
  | 'not_started' // configured, never connected (lazy servers before first use, disabled servers)
  | 'connecting'
  | 'healthy'
  | 'unhealthy' // connected but failing pings / transport errors; restart pending
  | 'restarting' // waiting for the backoff delay before reconnecting
  | 'stopped'; // stopped on purpose (shutdown, removed, disabled)

/** The protocol era the upstream turned out to speak. */
export type UpstreamEra = '2025' | '2026';

export interface UpstreamStatus {
  name: string;
  state: UpstreamState;
  /** Why it is unhealthy/restarting (last error message), if it is. */
  reason?: string;
  era?: UpstreamEra;
  protocolVersion?: string;
  serverInfo?: { name: string; version: string };
  restarts: number;
  connectedAt?: Date;
  lastPingMs?: number;
}

/**
 * Requests an upstream sends to its client (sampling, elicitation, roots). The gateway routes them
 * to the downstream client session whose call caused them.
 */
export type UpstreamClientRequestMethod = 'sampling/createMessage' | 'elicitation/create' | 'roots/list';

/** Hooks the connection calls for traffic the upstream starts; the gateway supplies them. */
export interface UpstreamHooks {
  /**
   * A server-to-client request; resolve with the result to send back upstream, or throw. `name` is
   * the key a 2026 upstream gave it in its `input_required` result (2025 requests have none).
   */
  onClientRequest(
    server: string,
    method: UpstreamClientRequestMethod,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    name?: string,
  ): Promise<Record<string, unknown>>;
  /**
   * A notification the upstream sent that is not a response to one call: logging messages,
   * `list_changed`, `resources/updated`. Progress for a call goes to that call's `onprogress`.
   */
  onNotification(server: string, method: string, params: Record<string, unknown> | undefined): void;
  /** State changes, for metrics, events and re-listing the catalog. */
  onStateChange(status: UpstreamStatus): void;
}

export interface UpstreamTimings {
  /** Per-call timeout (ms). */
  callTimeoutMs: number;
  /** Interval between health pings (ms); 0 disables pings. */
  healthIntervalMs: number;
  /** Time allowed for connecting + handshake (ms). */
  connectTimeoutMs: number;
  /** Exponential backoff for restarts. */
  restartInitialDelayMs: number;
  restartMaxDelayMs: number;
  /** Consecutive failed calls that open the circuit breaker, and how long it stays open (ms). */
  breakerThreshold: number;
  breakerHalfOpenAfterMs: number;
}

/** One upstream MCP server: connects, keeps itself healthy and runs calls through timeout + breaker. */
export interface Upstream {
  readonly spec: UpstreamSpec;
  status(): UpstreamStatus;
  /** Connects (no-op when connected or connecting); resolves once healthy, rejects if connecting failed. */
  start(): Promise<void>;
  /** Disconnects and kills a stdio child; no restart follows. */
  stop(): Promise<void>;
  /**
   * Runs `fn` with the connected SDK client under the per-call timeout and the circuit breaker.
   * Fails at once with `ZiggieError('UPSTREAM_UNAVAILABLE')` naming the server and its state when it is
   * not healthy (a lazy `not_started` server is started first), `UPSTREAM_CIRCUIT_OPEN` when the breaker
   * is open, `UPSTREAM_TIMEOUT` after the timeout (the signal passed to `fn` is aborted then, so the
   * SDK sends `notifications/cancelled` upstream).
   */
  call<T>(
    fn: (client: Client, signal: AbortSignal) => Promise<T>,
    options?: { signal?: AbortSignal },
  ): Promise<T>;
  /**
   * Sends one request to a 2026-07-28 upstream as it is, beside the SDK client, under the same
   * timeout and breaker as `call`, and resolves with the raw result: for what the SDK client's
   * codec refuses (the Tasks extension: a `tools/call` answered with `resultType: "task"`,
   * `tasks/get`, `tasks/update`, `tasks/cancel`). The `_meta` envelope is added here, declaring
   * `clientCapabilities` (Ziggie's own when absent). Fails with `UPSTREAM_ERROR` on a 2025 upstream.
   */
  rawRequest(
    method: string,
    params: Record<string, unknown>,
    options?: RawRequestOptions,
  ): Promise<RawResult>;
  /**
   * Holds a subscription to the upstream resource `uri` (its `notifications/resources/updated`
   * reach `UpstreamHooks.onNotification`), shared by every holder: the first one subscribes
   * upstream, in the upstream's era (2025: `resources/subscribe`; 2026-07-28: a
   * `subscriptions/listen` stream whose filter names the URI), and the subscription is made
   * again after a reconnect. Rejects when the upstream is unavailable or refuses it.
   */
  subscribeResource(uri: string): Promise<void>;
  /** Gives up one hold on `uri`; the last one ends the upstream subscription. */
  unsubscribeResource(uri: string): Promise<void>;
  /** Resource URIs subscribed upstream (held by at least one subscriber). */
  subscribedResources(): string[];
}

export interface RawRequestOptions {
  signal?: AbortSignal;
  clientCapabilities?: ClientCapabilities;
}

/** A JSON-RPC result object as the upstream sent it. */
export type RawResult = Record<string, unknown>;
