import { SSEClientTransport } from '@modelcontextprotocol/client';
import type { RemoteUpstreamSpec } from '../../core/upstream-spec.ts';

/**
 * The SDK's (deprecated, still widely deployed) HTTP+SSE transport. The SDK builds the headers of
 * both the event-stream GET and the message POSTs from `requestInit.headers`, so `spec.headers`
 * reach both.
 */
export function createSseTransport(spec: RemoteUpstreamSpec): SSEClientTransport {
  return new SSEClientTransport(new URL(spec.url), { requestInit: { headers: { ...spec.headers } } });
}
