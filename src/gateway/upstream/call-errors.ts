import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { isZiggieError, ZiggieError } from '../../core/errors.ts';

/** SDK errors that mean the connection itself failed (as opposed to a refused or invalid request). */
const CONNECTION_FAILURES: ReadonlySet<string> = new Set([
  SdkErrorCode.NotConnected,
  SdkErrorCode.ConnectionClosed,
  SdkErrorCode.SendFailed,
  SdkErrorCode.RequestTimeout,
  SdkErrorCode.ClientHttpNotImplemented,
  SdkErrorCode.ClientHttpUnexpectedContent,
  SdkErrorCode.ClientHttpFailedToOpenStream,
]);

/**
 * Whether a failed call counts against the upstream's circuit breaker: timeouts, broken
 * connections and JSON-RPC internal errors do; errors that are the caller's fault (invalid params,
 * unknown method or resource) and other deliberate answers of a working server do not. A tool
 * result with `isError` is a result, never an exception, so it never gets here.
 */
export function isBreakerFailure(error: unknown): boolean {
  if (error instanceof TaskCancelledError) return true;
  if (error instanceof ProtocolError) return error.code === ProtocolErrorCode.InternalError;
  if (error instanceof SdkError) return CONNECTION_FAILURES.has(error.code);
  if (isZiggieError(error)) return false;
  // Anything else escaped the SDK's typing: a fetch failure, a socket error, a broken pipe.
  return true;
}

/**
 * Turns a failed call into what the gateway reports. Protocol errors from the upstream and Ziggie
 * errors pass through unchanged (the gateway forwards their code and message); local failures become
 * `UPSTREAM_*` errors that name the server.
 */
export function mapCallError(
  error: unknown,
  server: string,
  timeoutMs: number,
  halfOpenAfterMs: number,
): Error {
  if (error instanceof ProtocolError || isZiggieError(error)) return error;
  const details = { server };
  if (error instanceof TaskCancelledError) {
    return new ZiggieError('UPSTREAM_TIMEOUT', `upstream "${server}" did not answer within ${timeoutMs} ms`, {
      ...details,
      timeoutMs,
    });
  }
  if (error instanceof BrokenCircuitError) {
    return new ZiggieError(
      'UPSTREAM_CIRCUIT_OPEN',
      `upstream "${server}" failed repeatedly: calls are paused for up to ${halfOpenAfterMs} ms`,
      details,
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) {
    return new ZiggieError('UPSTREAM_TIMEOUT', `upstream "${server}" did not answer: ${message}`, details, {
      cause: error,
    });
  }
  if (error instanceof SdkError && CONNECTION_FAILURES.has(error.code)) {
    return new ZiggieError(
      'UPSTREAM_UNAVAILABLE',
      `upstream "${server}" connection failed: ${message}`,
      details,
      {
        cause: error,
      },
    );
  }
  return new ZiggieError('UPSTREAM_ERROR', `upstream "${server}" failed: ${message}`, details, {
    cause: error,
  });
}
