import {
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  validateHostHeader,
  validateOriginHeader,
} from '@modelcontextprotocol/server';
import type { FastifyInstance } from 'fastify';
import { ZiggieError } from '../core/errors.ts';

export interface HostOriginOptions {
  /** Extra host names (no port) allowed in `Host`, besides localhost, 127.0.0.1 and [::1]. */
  allowedHosts: readonly string[];
  /** Extra origin host names allowed in `Origin`. */
  allowedOrigins: readonly string[];
}

/**
 * DNS-rebinding protection on every route: a `Host` that is not ours, or a browser `Origin` from
 * another site, is refused before any handler runs. MCP endpoints get a JSON-RPC error body,
 * everything else the REST error shape.
 */
export function registerHostOriginGuard(app: FastifyInstance, options: HostOriginOptions): void {
  const hosts = [...localhostAllowedHostnames(), ...options.allowedHosts];
  const origins = [...localhostAllowedOrigins(), ...options.allowedOrigins];
  app.addHook('onRequest', async (request, reply) => {
    const host = validateHostHeader(request.headers.host, hosts);
    const origin = host.ok ? validateOriginHeader(request.headers.origin, origins) : undefined;
    const failure = !host.ok
      ? new ZiggieError(
          'HOST_NOT_ALLOWED',
          `Host "${request.headers.host ?? ''}" is not allowed: ${host.message}`,
        )
      : origin && !origin.ok
        ? new ZiggieError(
            'ORIGIN_NOT_ALLOWED',
            `Origin "${request.headers.origin ?? ''}" is not allowed: ${origin.message}`,
          )
        : undefined;
    if (!failure) return;
    const isMcp = request.url.split('?')[0]?.endsWith('/mcp');
    await reply
      .code(failure.status)
      .type('application/json')
      .send(
        isMcp
          ? { jsonrpc: '2.0', error: { code: failure.jsonRpcCode, message: failure.message }, id: null }
          : failure.toJSON(),
      );
  });
}
