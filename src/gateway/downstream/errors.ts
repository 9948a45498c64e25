import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { isZiggieError } from '../../core/errors.ts';

/**
 * Turns whatever a gateway operation threw into the JSON-RPC error the client receives:
 * Ziggie errors keep their code in `data.code`; an upstream's own protocol errors pass through
 * unchanged; anything else becomes an internal error naming the upstream, never a stack trace.
 */
export function toProtocolError(error: unknown, server?: string): ProtocolError {
  if (isZiggieError(error)) {
    return new ProtocolError(error.jsonRpcCode, error.message, { code: error.code, ...error.details });
  }
  if (error instanceof ProtocolError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProtocolError(
    ProtocolErrorCode.InternalError,
    server ? `upstream "${server}" failed: ${message}` : message,
    server ? { code: 'UPSTREAM_ERROR', server } : { code: 'INTERNAL' },
  );
}
