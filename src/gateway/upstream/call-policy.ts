import {
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type TimeoutPolicy,
  TimeoutStrategy,
  timeout,
} from 'cockatiel';
import { isBreakerFailure, mapCallError } from './call-errors.ts';
import type { UpstreamTimings } from './types.ts';

/** Thrown inside the policy when the caller aborted, so the breaker does not count it. */
class CallerAborted extends Error {}

/**
 * The per-call timeout wrapped in the upstream's circuit breaker. One per upstream, kept across
 * reconnects: a server that keeps failing stays paused even while it restarts.
 */
export class CallPolicy {
  readonly #server: string;
  readonly #timeoutMs: number;
  readonly #halfOpenAfterMs: number;
  readonly #timeout: TimeoutPolicy;
  readonly #breaker: CircuitBreakerPolicy;

  constructor(server: string, timeoutMs: number, timings: UpstreamTimings) {
    this.#server = server;
    this.#timeoutMs = timeoutMs;
    this.#halfOpenAfterMs = timings.breakerHalfOpenAfterMs;
    // Aggressive: the call fails at the deadline and its signal aborts, so the SDK cancels upstream.
    // Not aborted on return: the call is over, and aborting costs a DOMException (with its stack
    // trace) and an abort event per call, a few percent of the gateway's CPU per tools/call.
    this.#timeout = timeout(timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
    this.#breaker = circuitBreaker(
      handleWhen((error) => !(error instanceof CallerAborted) && isBreakerFailure(error)),
      {
        halfOpenAfter: timings.breakerHalfOpenAfterMs,
        breaker: new ConsecutiveBreaker(timings.breakerThreshold),
      },
    );
  }

  /**
   * Runs `fn` with a signal that aborts at the timeout or when `callerSignal` aborts. A caller's
   * abort rethrows its reason; other failures come out as `mapCallError` makes them.
   */
  async run<T>(fn: (signal: AbortSignal) => Promise<T>, callerSignal?: AbortSignal): Promise<T> {
    try {
      return await this.#breaker.execute(async () => {
        try {
          return await this.#timeout.execute(({ signal }) => fn(signal), callerSignal);
        } catch (error) {
          if (callerSignal?.aborted) throw new CallerAborted('aborted by the caller', { cause: error });
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof CallerAborted) throw callerSignal?.reason ?? error;
      throw mapCallError(error, this.#server, this.#timeoutMs, this.#halfOpenAfterMs);
    }
  }
}
