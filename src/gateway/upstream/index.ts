export { restartDelay } from './backoff.ts';
export { isBreakerFailure, mapCallError } from './call-errors.ts';
export { CallPolicy } from './call-policy.ts';
export { createTransport } from './create-transport.ts';
export { createHttpTransport } from './http-transport.ts';
export { isAlive, processTree, terminate } from './process-tree.ts';
export { createSseTransport } from './sse-transport.ts';
export { createStdioTransport } from './stdio-transport.ts';
export type {
  RawRequestOptions,
  RawResult,
  Upstream,
  UpstreamClientRequestMethod,
  UpstreamEra,
  UpstreamHooks,
  UpstreamState,
  UpstreamStatus,
  UpstreamTimings,
} from './types.ts';
export { stopAll, UpstreamConnection } from './upstream-connection.ts';
export { createWsTransport, MCP_SUBPROTOCOL, WebSocketClientTransport } from './ws-transport.ts';
