import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { ZiggieError } from '../../core/errors.ts';
import { restartDelay } from './backoff.ts';
import { isBreakerFailure, mapCallError } from './call-errors.ts';

describe('isBreakerFailure', () => {
  it('counts timeouts, broken connections and internal errors', () => {
    expect(isBreakerFailure(new TaskCancelledError())).toBe(true);
    expect(isBreakerFailure(new SdkError(SdkErrorCode.ConnectionClosed, 'closed'))).toBe(true);
    expect(isBreakerFailure(new SdkError(SdkErrorCode.RequestTimeout, 'slow'))).toBe(true);
    expect(isBreakerFailure(new ProtocolError(ProtocolErrorCode.InternalError, 'boom'))).toBe(true);
    expect(isBreakerFailure(new TypeError('fetch failed'))).toBe(true);
  });

  it("does not count the caller's mistakes or deliberate refusals", () => {
    expect(isBreakerFailure(new ProtocolError(ProtocolErrorCode.InvalidParams, 'bad'))).toBe(false);
    expect(isBreakerFailure(new ProtocolError(ProtocolErrorCode.MethodNotFound, 'no'))).toBe(false);
    expect(isBreakerFailure(new ProtocolError(ProtocolErrorCode.ResourceNotFound, 'gone'))).toBe(false);
    expect(isBreakerFailure(new SdkError(SdkErrorCode.CapabilityNotSupported, 'no'))).toBe(false);
    expect(isBreakerFailure(new ZiggieError('TOOL_NOT_FOUND', 'no'))).toBe(false);
  });
});

describe('mapCallError', () => {
  it('passes protocol and Ziggie errors through unchanged', () => {
    const protocol = new ProtocolError(ProtocolErrorCode.InvalidParams, 'bad');
    const ziggie = new ZiggieError('TOOL_NOT_FOUND', 'no');
    expect(mapCallError(protocol, 's', 100, 1000)).toBe(protocol);
    expect(mapCallError(ziggie, 's', 100, 1000)).toBe(ziggie);
  });

  it('names the server in timeout, circuit, connection and other failures', () => {
    const timeout = mapCallError(new TaskCancelledError(), 'files', 2500, 1000) as ZiggieError;
    expect([timeout.code, timeout.message]).toEqual([
      'UPSTREAM_TIMEOUT',
      'upstream "files" did not answer within 2500 ms',
    ]);
    expect(timeout.details).toEqual({ server: 'files', timeoutMs: 2500 });
    const open = mapCallError(new BrokenCircuitError(), 'files', 2500, 30_000) as ZiggieError;
    expect([open.code, open.message]).toEqual([
      'UPSTREAM_CIRCUIT_OPEN',
      'upstream "files" failed repeatedly: calls are paused for up to 30000 ms',
    ]);
    const sdkTimeout = mapCallError(
      new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out'),
      'files',
      1,
      1,
    );
    expect((sdkTimeout as ZiggieError).code).toBe('UPSTREAM_TIMEOUT');
    const closed = mapCallError(
      new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed'),
      'files',
      1,
      1,
    );
    expect((closed as ZiggieError).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(closed.message).toBe('upstream "files" connection failed: Connection closed');
    const other = mapCallError(new Error('weird'), 'files', 1, 1) as ZiggieError;
    expect([other.code, other.message, other.cause]).toEqual([
      'UPSTREAM_ERROR',
      'upstream "files" failed: weird',
      expect.any(Error),
    ]);
  });
});

describe('restartDelay', () => {
  it('doubles from the initial delay up to the maximum, jittered within the upper half', () => {
    const low = (attempt: number) => restartDelay(attempt, 500, 30_000, () => 0);
    const high = (attempt: number) => restartDelay(attempt, 500, 30_000, () => 1);
    expect([0, 1, 2, 3].map(high)).toEqual([500, 1000, 2000, 4000]);
    expect([0, 1, 2, 3].map(low)).toEqual([250, 500, 1000, 2000]);
    expect(high(10)).toBe(30_000);
    expect(high(1000)).toBe(30_000);
    for (let i = 0; i < 100; i++) {
      const delay = restartDelay(2, 500, 30_000);
      expect(delay).toBeGreaterThanOrEqual(1000);
      expect(delay).toBeLessThanOrEqual(2000);
    }
  });
});
