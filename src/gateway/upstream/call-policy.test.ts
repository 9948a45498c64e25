import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ZiggieError } from '../../core/errors.ts';
import { CallPolicy } from './call-policy.ts';
import { FAST_TIMINGS } from './test-helpers.ts';

const TIMEOUT_MS = 1000;
const HALF_OPEN_MS = 5000;

function policy(threshold = 2): CallPolicy {
  return new CallPolicy('files', TIMEOUT_MS, {
    ...FAST_TIMINGS,
    breakerThreshold: threshold,
    breakerHalfOpenAfterMs: HALF_OPEN_MS,
  });
}

const closed = () => Promise.reject(new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed'));
const refused = () => Promise.reject(new ProtocolError(ProtocolErrorCode.InvalidParams, 'bad'));
const never = () => new Promise<never>(() => {});
const errorOf = (promise: Promise<unknown>) => promise.catch((e: unknown) => e) as Promise<ZiggieError>;

/** A call whose outcome the test decides later. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('CallPolicy timeout', () => {
  it('passes a result through and leaves the signal alone once the call returned', async () => {
    const p = policy();
    let seen: AbortSignal | undefined;
    const result = await p.run(async (signal) => {
      seen = signal;
      return 'ok';
    });
    expect(result).toBe('ok');
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS * 2);
    expect(seen?.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails at the deadline with UPSTREAM_TIMEOUT and aborts the signal, even if the call never settles', async () => {
    const p = policy();
    let seen: AbortSignal | undefined;
    const error = errorOf(
      p.run((signal) => {
        seen = signal;
        return never();
      }),
    );
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const timedOut = await error;
    expect([timedOut.code, timedOut.message]).toEqual([
      'UPSTREAM_TIMEOUT',
      'upstream "files" did not answer within 1000 ms',
    ]);
    expect(timedOut.details).toEqual({ server: 'files', timeoutMs: TIMEOUT_MS });
    expect(seen?.aborted).toBe(true);
  });

  it('ignores what a timed-out call settles with later', async () => {
    const p = policy(5);
    const late = deferred<string>();
    const error = errorOf(p.run(() => late.promise));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect((await error).code).toBe('UPSTREAM_TIMEOUT');
    late.resolve('too late');
    await vi.advanceTimersByTimeAsync(0);
    expect(p.state).toBe('closed');
  });

  it("rethrows the caller's reason when the caller aborts, aborts the call's signal, and does not count it", async () => {
    const p = policy(1);
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const error = errorOf(
      p.run((signal) => {
        seen = signal;
        return never();
      }, controller.signal),
    );
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await error).toBe(reason);
    expect(seen?.aborted).toBe(true);
    expect(p.state).toBe('closed');
    expect(await p.run(async () => 'still open for calls')).toBe('still open for calls');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a failure after the caller aborted is the caller’s, not the upstream’s', async () => {
    const p = policy(1);
    const controller = new AbortController();
    const reason = new Error('gone');
    const error = errorOf(
      p.run(async () => {
        controller.abort(reason);
        throw new SdkError(SdkErrorCode.ConnectionClosed, 'closed');
      }, controller.signal),
    );
    expect(await error).toBe(reason);
    expect(p.state).toBe('closed');
  });

  it('does not run a call whose caller already aborted', async () => {
    const p = policy();
    const controller = new AbortController();
    controller.abort(new Error('already gone'));
    const fn = vi.fn(async () => 'ran');
    expect(((await errorOf(p.run(fn, controller.signal))) as Error).message).toBe('already gone');
    expect(fn).not.toHaveBeenCalled();
  });

  it('maps a synchronous throw like a rejection', async () => {
    const p = policy();
    const error = await errorOf(
      p.run(() => {
        throw new Error('weird');
      }),
    );
    expect([error.code, error.message]).toEqual(['UPSTREAM_ERROR', 'upstream "files" failed: weird']);
  });
});

describe('CallPolicy breaker', () => {
  it('opens after `threshold` consecutive counted failures and then fails at once without running the call', async () => {
    const p = policy(2);
    expect((await errorOf(p.run(closed))).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(p.state).toBe('closed');
    expect((await errorOf(p.run(closed))).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(p.state).toBe('open');
    const fn = vi.fn(async () => 'ran');
    const open = await errorOf(p.run(fn));
    expect([open.code, open.message]).toEqual([
      'UPSTREAM_CIRCUIT_OPEN',
      'upstream "files" failed repeatedly: calls are paused for up to 5000 ms',
    ]);
    expect(fn).not.toHaveBeenCalled();
  });

  it('counts timeouts', async () => {
    const p = policy(2);
    for (let i = 0; i < 2; i++) {
      const error = errorOf(p.run(never));
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
      expect((await error).code).toBe('UPSTREAM_TIMEOUT');
    }
    expect((await errorOf(p.run(async () => 'x'))).code).toBe('UPSTREAM_CIRCUIT_OPEN');
  });

  it("passes the caller's mistakes through unchanged without counting them or resetting the count", async () => {
    const p = policy(2);
    await errorOf(p.run(closed));
    for (let i = 0; i < 5; i++) {
      const error = await errorOf(p.run(refused));
      expect(error).toBeInstanceOf(ProtocolError);
      expect(p.state).toBe('closed');
    }
    await errorOf(p.run(closed));
    expect(p.state).toBe('open');
  });

  it('a success resets the count', async () => {
    const p = policy(2);
    await errorOf(p.run(closed));
    await p.run(async () => 'ok');
    await errorOf(p.run(closed));
    expect(p.state).toBe('closed');
  });

  it('half-open after the pause: one test call goes through, the others wait; success closes', async () => {
    const p = policy(1);
    await errorOf(p.run(closed));
    expect(p.state).toBe('open');
    await vi.advanceTimersByTimeAsync(HALF_OPEN_MS - 10);
    expect((await errorOf(p.run(async () => 'x'))).code).toBe('UPSTREAM_CIRCUIT_OPEN');
    await vi.advanceTimersByTimeAsync(10);

    const test = deferred<string>();
    const first = p.run(() => test.promise);
    expect(p.state).toBe('half-open');
    const waiting = vi.fn(async () => 'second');
    const second = p.run(waiting);
    await vi.advanceTimersByTimeAsync(0);
    expect(waiting).not.toHaveBeenCalled();
    test.resolve('first');
    expect(await first).toBe('first');
    expect(await second).toBe('second');
    expect(p.state).toBe('closed');
  });

  it('a failed test call opens the breaker again, and the waiting calls are refused', async () => {
    const p = policy(1);
    await errorOf(p.run(closed));
    await vi.advanceTimersByTimeAsync(HALF_OPEN_MS);
    const test = deferred<string>();
    const first = errorOf(p.run(() => test.promise));
    const waiting = vi.fn(async () => 'second');
    const second = errorOf(p.run(waiting));
    test.reject(new ProtocolError(ProtocolErrorCode.InternalError, 'boom'));
    expect((await first).code).toBe(ProtocolErrorCode.InternalError);
    expect((await second).code).toBe('UPSTREAM_CIRCUIT_OPEN');
    expect(waiting).not.toHaveBeenCalled();
    expect(p.state).toBe('open');
    // Paused again for the full time.
    await vi.advanceTimersByTimeAsync(HALF_OPEN_MS - 1);
    expect((await errorOf(p.run(async () => 'x'))).code).toBe('UPSTREAM_CIRCUIT_OPEN');
    await vi.advanceTimersByTimeAsync(1);
    expect(await p.run(async () => 'back')).toBe('back');
    expect(p.state).toBe('closed');
  });

  it('a test call that fails in a way that does not count closes the breaker', async () => {
    const p = policy(1);
    await errorOf(p.run(closed));
    await vi.advanceTimersByTimeAsync(HALF_OPEN_MS);
    expect(await errorOf(p.run(refused))).toBeInstanceOf(ProtocolError);
    expect(p.state).toBe('closed');
  });

  it('a waiting call whose caller aborts gets its reason', async () => {
    const p = policy(1);
    await errorOf(p.run(closed));
    await vi.advanceTimersByTimeAsync(HALF_OPEN_MS);
    const test = deferred<string>();
    const first = p.run(() => test.promise);
    const controller = new AbortController();
    const second = errorOf(p.run(async () => 'never run', controller.signal));
    controller.abort(new Error('bye'));
    test.resolve('first');
    expect(await first).toBe('first');
    expect(((await second) as Error).message).toBe('bye');
  });
});
