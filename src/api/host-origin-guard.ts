import {
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  validateHostHeader,
  validateOriginHeader,
} from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ZiggieError } from '../core/errors.ts';

export interface HostOriginOptions {
  /** Extra host names (no port) allowed in `Host`, besides localhost, 127.0.0.1 and [::1]. */
  allowedHosts: readonly string[];
  /** Extra origin host names allowed in `Origin`. */
  allowedOrigins: readonly string[];
}

/**
 * How many distinct accepted `Host` (and, apart, `Origin`) values are remembered. A client sends
 * the same one on every request; the SDK's check parses it with `new URL()` each time, a few
 * microseconds per request. Only accepted values are kept (refused ones are rare, and an attacker
 * varying them must not evict the good ones); past the bound, values are checked every time.
 */
export const ACCEPTED_VALUES_KEPT = 64;

/** A set of accepted header values that stops growing at `ACCEPTED_VALUES_KEPT`. */
class AcceptedValues {
  readonly #values = new Set<string>();

  has(value: string): boolean {
    return this.#values.has(value);
  }

  add(value: string): void {
    if (this.#values.size < ACCEPTED_VALUES_KEPT) this.#values.add(value);
  }
}

/**
 * DNS-rebinding protection on every route: a `Host` that is not ours, or a browser `Origin` from
 * another site, is refused before any handler runs. MCP endpoints get a JSON-RPC error body,
 * everything else the REST error shape.
 */
export function registerHostOriginGuard(app: FastifyInstance, options: HostOriginOptions): void {
  const hosts = [...localhostAllowedHostnames(), ...options.allowedHosts];
  const origins = [...localhostAllowedOrigins(), ...options.allowedOrigins];
  const acceptedHosts = new AcceptedValues();
  const acceptedOrigins = new AcceptedValues();

  /** Why the request is refused, or undefined when its Host and Origin are allowed. */
  const refusal = (request: FastifyRequest): ZiggieError | undefined => {
    const { host: hostHeader, origin: originHeader } = request.headers;
    if (hostHeader === undefined || !acceptedHosts.has(hostHeader)) {
      const host = validateHostHeader(hostHeader, hosts);
      if (!host.ok) {
        return new ZiggieError(
          'HOST_NOT_ALLOWED',
          `Host "${hostHeader ?? ''}" is not allowed: ${host.message}`,
        );
      }
      if (hostHeader !== undefined) acceptedHosts.add(hostHeader);
    }
    // No Origin (non-browser clients) passes.
    if (originHeader === undefined || originHeader === '' || acceptedOrigins.has(originHeader))
      return undefined;
    const origin = validateOriginHeader(originHeader, origins);
    if (!origin.ok) {
      return new ZiggieError(
        'ORIGIN_NOT_ALLOWED',
        `Origin "${originHeader}" is not allowed: ${origin.message}`,
      );
    }
    acceptedOrigins.add(originHeader);
    return undefined;
  };

  // A callback hook, not an async one: the common case (allowed) costs no promise.
  app.addHook('onRequest', (request, reply, done) => {
    const failure = refusal(request);
    if (!failure) return done();
    // Answered here: `done` is not called, so nothing else runs for this request.
    refuse(request, reply, failure);
  });
}

function refuse(request: FastifyRequest, reply: FastifyReply, failure: ZiggieError): void {
  const isMcp = request.url.split('?')[0]?.endsWith('/mcp');
  reply
    .code(failure.status)
    .type('application/json')
    .send(
      isMcp
        ? { jsonrpc: '2.0', error: { code: failure.jsonRpcCode, message: failure.message }, id: null }
        : failure.toJSON(),
    );
}
