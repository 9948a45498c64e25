import type { AuthInfo } from '@modelcontextprotocol/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AuthService, type Identity, identityKey } from '../auth/index.ts';
import { ZiggieError } from '../core/errors.ts';
import { sendAuthError } from './auth-hook.ts';

/**
 * What the MCP layer learns of the caller: `clientId` is the identity (`user:usr_…`), so held
 * calls and tasks are owned per identity; `scopes` are its permissions (checked again per method
 * by the session handlers). The client's own token stays here: nothing of it is passed on, and
 * upstreams only ever get the credentials of their config entry.
 */
export function mcpAuthInfo(request: FastifyRequest): AuthInfo | undefined {
  const identity = request.identity;
  if (!identity) return undefined;
  let info = AUTH_INFOS.get(identity);
  if (!info) {
    info = toAuthInfo(identity);
    AUTH_INFOS.set(identity, info);
  }
  return info;
}

/** One per identity object: the local-mode identity is the same object for every request. */
const AUTH_INFOS = new WeakMap<Identity, AuthInfo>();

function toAuthInfo(identity: Identity): AuthInfo {
  return {
    token: '',
    clientId: identityKey(identity),
    scopes: [...identity.permissions],
    ...(identity.expiresAt === undefined ? {} : { expiresAt: identity.expiresAt }),
    extra: { actor: identity.actor, method: identity.method, role: identity.role, tier: identity.tier },
  };
}

interface JsonRpcRequestLike {
  method?: unknown;
  params?: { requestState?: unknown } | undefined;
}

/**
 * Tool calls in an MCP POST body need `mcp.tools.execute` and spend the identity's tool-call rate:
 * refused here with an HTTP 403 (challenge naming the scope) or 429 (`Retry-After`) before the
 * MCP layer sees them. A later round of a held call (it carries `requestState`) continues a call
 * already counted. Returns the reply when the request was refused.
 */
export function gateToolCalls(
  request: FastifyRequest,
  reply: FastifyReply,
  auth: AuthService,
  body: unknown,
): FastifyReply | undefined {
  const identity = request.identity;
  if (!identity || request.method !== 'POST') return undefined;
  const messages = (Array.isArray(body) ? body : [body]) as JsonRpcRequestLike[];
  const calls = messages.filter((m) => typeof m === 'object' && m !== null && m.method === 'tools/call');
  if (calls.length === 0) return undefined;
  if (!identity.permissions.has('mcp.tools.execute')) {
    const error = new ZiggieError('PERMISSION_DENIED', 'tools/call needs "mcp.tools.execute"', {
      missing: ['mcp.tools.execute'],
    });
    auth.denied(identity, error, `tools/call ${request.url.split('?')[0]}`, request.ip);
    return sendAuthError(reply, request, auth, error, 'mcp.tools.execute');
  }
  for (const call of calls) {
    if (call.params?.requestState !== undefined) continue;
    const decision = auth.take(identity, 'tool');
    if (!decision.ok) {
      return sendAuthError(
        reply,
        request,
        auth,
        auth.rateLimited(identity, 'tool calls', decision, request.ip),
      );
    }
  }
  return undefined;
}
