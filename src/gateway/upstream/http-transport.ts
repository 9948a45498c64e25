import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { RemoteUpstreamSpec } from '../../core/upstream-spec.ts';

/**
 * The SDK's Streamable HTTP transport for a `url` upstream; `spec.headers` (API keys, bearer
 * tokens) go on every POST, GET and DELETE. The SDK's own headers (`mcp-session-id`,
 * `mcp-protocol-version`) win over same-named entries.
 */
export function createHttpTransport(spec: RemoteUpstreamSpec): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(spec.url), {
    requestInit: { headers: { ...spec.headers } },
  });
}
