import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { isBreakerFailure, mapCallError } from './call-errors.ts';
import type { UpstreamTimings } from './types.ts';

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
type BreakerState = typeof CLOSED | typeof OPEN | typeof HALF_OPEN;

const ignore = () => undefined;

/**
 * The per-call timeout wrapped in the upstream's circuit breaker. One per upstream, kept across
 * reconnects: a server that keeps failing stays paused even while it restarts.
 *
 * The same semantics as cockatiel's aggressive `timeout` inside a `circuitBreaker` with a
 * `ConsecutiveBreaker` (which this replaced on the hot path: cockatiel spent a derived
 * AbortController, event objects, a `Promise.race` and two executor wrappers per call):
 *
 * - timeout: the call fails with `UPSTREAM_TIMEOUT` at the deadline and its signal aborts then, so
 *   the SDK cancels the request upstream; a call that returns is not aborted (aborting costs a
 *   DOMException and an abort event per call);
 * - the caller's signal aborts the call's signal too, and the caller's reason is rethrown, never
 *   counted against the upstream;
 * - breaker: `threshold` consecutive failures that `isBreakerFailure` counts open it; while open,
 *   calls fail at once with `UPSTREAM_CIRCUIT_OPEN`; after `halfOpenAfterMs` one call is let
 *   through as a test (the others wait for it): success closes the breaker, a counted failure opens
 *   it again, any other outcome closes it (as cockatiel does). A success resets the count; a failure
 *   that does not count leaves it as it is.
 */
export class CallPolicy {
  readonly #server: string;
  readonly #timeoutMs: number;
  readonly #halfOpenAfterMs: number;
  readonly #threshold: number;
  #state: BreakerState = CLOSED;
  #failures = 0;
  #openedAt = 0;
  /** The half-open test call, while one runs. */
  #test: Promise<unknown> | undefined;

  constructor(server: string, timeoutMs: number, timings: UpstreamTimings) {
    this.#server = server;
    this.#timeoutMs = timeoutMs;
    this.#halfOpenAfterMs = timings.breakerHalfOpenAfterMs;
    this.#threshold = timings.breakerThreshold;
  }

  /** `closed`, `open` or `half-open` (for tests and diagnostics). */
  get state(): 'closed' | 'open' | 'half-open' {
    return this.#state === CLOSED ? 'closed' : this.#state === OPEN ? 'open' : 'half-open';
  }

  /**
   * Runs `fn` with a signal that aborts at the timeout or when `callerSignal` aborts. A caller's
   * abort rethrows its reason; other failures come out as `mapCallError` makes them.
   */
  run<T>(fn: (signal: AbortSignal) => Promise<T>, callerSignal?: AbortSignal): Promise<T> {
    if (this.#state === CLOSED) return this.#attempt(fn, callerSignal, false);
    return this.#runGuarded(fn, callerSignal);
  }

  async #runGuarded<T>(fn: (signal: AbortSignal) => Promise<T>, callerSignal?: AbortSignal): Promise<T> {
    for (;;) {
      if (this.#state === CLOSED) return this.#attempt(fn, callerSignal, false);
      if (this.#state === OPEN) {
        if (Date.now() - this.#openedAt < this.#halfOpenAfterMs) throw this.#map(new BrokenCircuitError());
        this.#state = HALF_OPEN;
        const test = this.#attempt(fn, callerSignal, true);
        this.#test = test;
        return test;
      }
      // Half-open: wait for the test call, then go by what it decided.
      await this.#test?.catch(ignore);
      if (callerSignal?.aborted) throw callerSignal.reason;
    }
  }

  /** One call under the timeout; its outcome is counted by the breaker. */
  #attempt<T>(
    fn: (signal: AbortSignal) => Promise<T>,
    callerSignal: AbortSignal | undefined,
    isTest: boolean,
  ): Promise<T> {
    if (callerSignal?.aborted) {
      if (isTest) this.#close();
      return Promise.reject(callerSignal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      const controller = new AbortController();
      let settled = false;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
      };
      const fail = (error: unknown) => {
        if (callerSignal?.aborted) {
          // Not the upstream's fault: not counted (a test call closes the breaker, as cockatiel does).
          if (isTest) this.#close();
          reject(callerSignal.reason);
          return;
        }
        this.#failed(error, isTest);
        reject(this.#map(error));
      };
      const timer = setTimeout(() => {
        if (settled) return;
        finish();
        fail(new TaskCancelledError(`Operation timed out after ${this.#timeoutMs}ms`));
        controller.abort();
      }, this.#timeoutMs);
      const onCallerAbort = () => {
        if (settled) return;
        finish();
        // Without a reason, as before: the SDK's notifications/cancelled upstream says the same.
        controller.abort();
        fail(callerSignal?.reason);
      };
      callerSignal?.addEventListener('abort', onCallerAbort);
      let pending: Promise<T>;
      try {
        pending = fn(controller.signal);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (settled) return;
          finish();
          this.#succeeded(isTest);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          finish();
          fail(error);
        },
      );
    });
  }

  #succeeded(isTest: boolean): void {
    this.#failures = 0;
    if (isTest) this.#close();
  }

  #failed(error: unknown, isTest: boolean): void {
    if (!isBreakerFailure(error)) {
      if (isTest) this.#close();
      return;
    }
    this.#failures++;
    if (isTest || (this.#state === CLOSED && this.#failures >= this.#threshold)) {
      this.#state = OPEN;
      this.#openedAt = Date.now();
      this.#test = undefined;
    }
  }

  #close(): void {
    if (this.#state !== HALF_OPEN) return;
    this.#state = CLOSED;
    this.#test = undefined;
  }

  #map(error: unknown): Error {
    return mapCallError(error, this.#server, this.#timeoutMs, this.#halfOpenAfterMs);
  }
}
