import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService, Identity } from '../auth/index.ts';
import { isLoopbackHost } from '../auth/index.ts';
import type { RouteAccess } from '../core/access.ts';
import { isZiggieError, ZiggieError } from '../core/errors.ts';
import './route-access.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (set by the auth hook on every non-public route). */
    identity?: Identity;
  }
  interface FastifyContextConfig {
    /** `tool`: the route runs a tool, so it spends the identity's tool-call rate, not its request rate. */
    rate?: 'tool';
  }
}

/** One registered route and what it requires (for the authorization table test and docs). */
export interface RouteAccessEntry {
  method: string;
  url: string;
  access: RouteAccess;
}

const TABLES = new WeakMap<FastifyInstance, RouteAccessEntry[]>();

/** Every route registered on `app` after the auth hook, with its declared access. */
export function routeAccessTable(app: FastifyInstance): readonly RouteAccessEntry[] {
  return TABLES.get(app) ?? [];
}

/** Whether a request is for an MCP endpoint (answered in JSON-RPC, challenged per RFC 9728). */
export function isMcpRequest(request: FastifyRequest): boolean {
  return (request.url.split('?')[0] ?? '').endsWith('/mcp');
}

/** The URL clients reach Ziggie at: `auth.publicUrl`, else the scheme and (validated) Host of the request. */
export function baseUrlOf(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.headers.host ?? 'localhost'}`;
}

/** RFC 9728 Protected Resource Metadata for the whole server. */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

/**
 * Authentication and authorization for every route, as one `onRequest` hook: every route must
 * declare `config.access` (registering one without fails at start-up); the hook authenticates
 * (Bearer JWT or API key, or the session cookie; in local mode a credential-less loopback request
 * is the bootstrap admin), sets `request.identity` and `request.actor`, and refuses with 401
 * (no or bad credentials) or 403 (naming the missing permission). REST requests spend the
 * identity's request rate (429 with Retry-After when used up).
 */
export function registerAuthHook(app: FastifyInstance, auth: AuthService): void {
  const table: RouteAccessEntry[] = [];
  TABLES.set(app, table);
  app.decorateRequest('identity', undefined);

  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    const methods = [route.method].flat();
    if (!access) {
      throw new Error(
        `route ${methods.join(',')} ${route.url} declares no config.access (a permission, 'authenticated' or 'public')`,
      );
    }
    for (const method of methods) table.push({ method, url: route.url, access });
  });

  // A callback hook: the common local-mode request (loopback, no credentials, allowed) is admitted
  // synchronously, without a promise; everything else goes through `authenticate` below.
  app.addHook('onRequest', (request, reply, done) => {
    const access = request.routeOptions.config?.access;
    // No route matched: the 404 handler answers, whoever asks.
    if (access === undefined || access === 'public') return done();
    const local = localIdentityOf(request, auth);
    if (local && (access === 'authenticated' || local.permissions.has(access))) {
      // Refused (rate limit): answered here, and `done` is not called, so nothing else runs.
      if (admit(request, reply, auth, local)) return;
      return done();
    }
    authenticate(request, reply, access).then(() => done(), done);
  });

  const authenticate = async (
    request: FastifyRequest,
    reply: FastifyReply,
    access: Exclude<RouteAccess, 'public'>,
  ) => {
    const ip = request.ip;
    const target = `${request.method} ${request.routeOptions.url ?? request.url}`;
    const mcp = isMcpRequest(request);
    let identity: Identity | undefined;
    try {
      identity = await auth.authenticate(
        { bearer: bearerOf(request), session: cookieOf(request, auth.settings.sessions.cookieName) },
        mcp ? [auth.tokens.audience, mcpResourceUrl(request, auth)] : undefined,
      );
      if (!identity && auth.localIdentity && isLoopbackHost(request.socket.remoteAddress ?? '')) {
        identity = auth.localIdentity;
      }
      if (!identity) {
        throw new ZiggieError(
          'AUTH_REQUIRED',
          `${target} needs credentials: Authorization: Bearer <API key or token>, or a session (POST /api/auth/login)`,
        );
      }
      if (access !== 'authenticated' && !identity.permissions.has(access)) {
        throw new ZiggieError(
          'PERMISSION_DENIED',
          `${target} needs "${access}", which ${describe(identity)} lacks`,
          {
            missing: [access],
          },
        );
      }
    } catch (error) {
      if (!isZiggieError(error)) throw error;
      auth.denied(identity, error, target, ip);
      return sendAuthError(reply, request, auth, error, access);
    }
    return admit(request, reply, auth, identity);
  };
}

/**
 * In local mode, a loopback request with no credentials at all is the bootstrap admin: what
 * `authenticate` concludes for it, known without a promise. Undefined when anything else applies.
 */
function localIdentityOf(request: FastifyRequest, auth: AuthService): Identity | undefined {
  const local = auth.localIdentity;
  if (!local) return undefined;
  const { authorization, cookie } = request.headers;
  if (authorization !== undefined || cookie !== undefined) return undefined;
  return isLoopbackHost(request.socket.remoteAddress ?? '') ? local : undefined;
}

/** Sets the authenticated identity on the request; REST requests spend its rate (429 when used up). */
function admit(
  request: FastifyRequest,
  reply: FastifyReply,
  auth: AuthService,
  identity: Identity,
): FastifyReply | undefined {
  request.identity = identity;
  request.actor = identity.actor;
  // MCP endpoints spend the tool-call rate per tools/call in the body (see mcp-auth.ts).
  if (isMcpRequest(request)) return undefined;
  const tool = request.routeOptions.config?.rate === 'tool';
  const decision = auth.take(identity, tool ? 'tool' : 'rest');
  if (decision.ok) return undefined;
  const what = tool ? 'tool calls' : 'requests';
  return sendAuthError(reply, request, auth, auth.rateLimited(identity, what, decision, request.ip));
}

/** Who an identity is, in a 403 message. */
function describe(identity: Identity): string {
  const what = identity.role ? `role ${identity.role}` : identity.tier ? `tier ${identity.tier}` : 'it';
  return `${identity.actor.type} "${identity.actor.id}" (${what})`;
}

/** The URL of the MCP endpoint a request is for: a token issued for exactly it is accepted there. */
export function mcpResourceUrl(request: FastifyRequest, auth: AuthService): string {
  return `${baseUrlOf(request, auth.settings.publicUrl)}${request.url.split('?')[0]}`;
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  // A malformed Authorization header is a bad credential, not a missing one.
  if (!match)
    throw new ZiggieError('AUTH_INVALID', 'Authorization header: expected "Bearer <API key or token>"');
  return match[1];
}

/** The value of one cookie. */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return decodeURIComponent(part.slice(at + 1).trim());
  }
  return undefined;
}

/**
 * Answers a refused request: the REST error shape, or on MCP endpoints a JSON-RPC error with an
 * RFC 6750 / RFC 9728 `WWW-Authenticate` challenge; 429s carry `Retry-After`.
 */
export function sendAuthError(
  reply: FastifyReply,
  request: FastifyRequest,
  auth: AuthService,
  error: ZiggieError,
  scope?: RouteAccess,
): FastifyReply {
  const retryAfter = error.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  if (!isMcpRequest(request)) return reply.code(error.status).type('application/json').send(error.toJSON());
  if (error.status === 401 || error.status === 403) {
    const metadata = `${baseUrlOf(request, auth.settings.publicUrl)}${PROTECTED_RESOURCE_PATH}`;
    const params = [
      error.code === 'AUTH_INVALID' ? 'error="invalid_token"' : undefined,
      error.code === 'PERMISSION_DENIED' ? 'error="insufficient_scope"' : undefined,
      error.code === 'PERMISSION_DENIED' && scope ? `scope="${scope}"` : undefined,
      `resource_metadata="${metadata}"`,
    ].filter(Boolean);
    reply.header('www-authenticate', `Bearer ${params.join(', ')}`);
  }
  return reply
    .code(error.status)
    .type('application/json')
    .send({
      jsonrpc: '2.0',
      error: { code: error.jsonRpcCode, message: error.message, data: { code: error.code } },
      id: null,
    });
}
