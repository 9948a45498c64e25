import type { Transport } from '@modelcontextprotocol/client';
import type { UpstreamSpec } from '../../core/upstream-spec.ts';
import { createHttpTransport } from './http-transport.ts';
import { createSseTransport } from './sse-transport.ts';
import { createStdioTransport } from './stdio-transport.ts';
import { createWsTransport } from './ws-transport.ts';

/**
 * A fresh SDK transport for one connection attempt, chosen by `spec.transport`. Transports are
 * single-use: every reconnect builds a new one. `onStderrLine` receives a stdio child's stderr.
 */
export function createTransport(spec: UpstreamSpec, onStderrLine: (line: string) => void): Transport {
  switch (spec.transport) {
    case 'stdio':
      return createStdioTransport(spec, onStderrLine);
    case 'http':
      return createHttpTransport(spec);
    case 'sse':
      return createSseTransport(spec);
    case 'ws':
      return createWsTransport(spec);
  }
}
