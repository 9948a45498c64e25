import { randomUUID } from 'node:crypto';
import { toWebRequest } from '@modelcontextprotocol/node';
import { type AuthInfo, isLegacyRequest } from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type AuthService, identityKey } from '../auth/index.ts';
import { isZiggieError } from '../core/errors.ts';
import { paramHeaderRejection } from '../gateway/downstream/param-headers.ts';
import type { DownstreamSession } from '../gateway/downstream/session.ts';
import { type PlainToolCall, plainToolCall } from '../gateway/downstream/stateless-fast-call.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { CatalogView } from '../gateway/view.ts';
import { toZiggieError } from './error-handler.ts';
import { gateToolCalls, mcpAuthInfo } from './mcp-auth.ts';
import { type McpEndpoint, type McpScopeDeps, scopedView } from './mcp-scope.ts';
import { SessionTransport } from './session-transport.ts';

export interface McpRoutesOptions extends McpScopeDeps {
  gateway: Gateway;
  auth: AuthService;
  maxBodyBytes: number;
  /** Sessions with no request for this long are closed (ms). */
  sessionIdleMs: number;
}

interface LiveSession {
  session: DownstreamSession;
  transport: SessionTransport;
  /** The identity that opened it; nobody else may use it. */
  owner: string;
}

/** Marker for a POST body that is not valid JSON (answered with a JSON-RPC parse error). */
const UNPARSABLE = Symbol('unparsable');

/**
 * The MCP Streamable HTTP endpoints (2025-11-25, sessions): `/mcp` (aggregate) and
 * `/servers/<name>/mcp`. Each session gets its own MCP server and transport; requests are routed
 * to them by `Mcp-Session-Id`.
 */
export async function mcpRoutes(app: FastifyInstance, options: McpRoutesOptions): Promise<void> {
  const { gateway } = options;
  const live = new Map<string, LiveSession>();

  // Keep the raw text: the MCP layer answers malformed JSON itself, with JSON-RPC's parse error.
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: options.maxBodyBytes },
    (_req, body, done) => {
      try {
        done(null, body === '' ? undefined : JSON.parse(body as string));
      } catch {
        done(null, UNPARSABLE);
      }
    },
  );
  app.setErrorHandler((error, request, reply) => {
    const mapped = toZiggieError(error);
    if (mapped.code === 'INTERNAL') request.log.error({ err: error }, 'MCP request failed');
    return replyJsonRpcError(reply, mapped.status, mapped.jsonRpcCode, mapped.message);
  });

  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - options.sessionIdleMs;
      for (const entry of live.values()) {
        if (entry.session.lastActiveAt < cutoff) void entry.transport.close();
      }
    },
    Math.min(options.sessionIdleMs, 60_000),
  ).unref();
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    await Promise.allSettled([...live.values()].map((entry) => entry.transport.close()));
  });

  const handle = async (request: FastifyRequest, reply: FastifyReply, view: CatalogView): Promise<void> => {
    const body = request.body;
    if (body === UNPARSABLE)
      return replyJsonRpcError(reply, 400, -32700, 'Parse error: the body is not valid JSON');
    if (gateToolCalls(request, reply, options.auth, body)) return;
    const owner = request.identity ? identityKey(request.identity) : 'anonymous';
    // The SDK hands `req.auth` (sessions) or the `authInfo` option (stateless) to every handler as `ctx.http.authInfo`.
    const authInfo = mcpAuthInfo(request);
    (request.raw as { auth?: unknown }).auth = authInfo;
    const sessionId = request.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const entry = live.get(sessionId);
      // Another identity's session id is treated as unknown: sessions are not shared.
      if (!entry || entry.session.view !== view || entry.owner !== owner) {
        return replyJsonRpcError(
          reply,
          404,
          -32001,
          'Session not found: it expired or was closed; initialize again',
        );
      }
      entry.session.lastActiveAt = Date.now();
      reply.hijack();
      await entry.transport.handleRequest(request.raw, reply.raw, body);
      return;
    }
    // No session: a 2026-07-28 stateless request when its `_meta` envelope says so (an `initialize`
    // carrying one too: 2026-07-28 removed it, the per-request handler answers 404 / -32601),
    // answered by the SDK's per-request handler with the same gateway handlers.
    if (request.method === 'POST') {
      // Mcp-Param-* headers must agree with the arguments they mirror (SEP-2243), whichever path serves.
      const refused = paramHeaderRejection(request.headers, body, view);
      if (refused) {
        const id = (body as { id?: unknown }).id;
        return reply
          .code(refused.status)
          .type('application/json')
          .send({
            jsonrpc: '2.0',
            error: { code: refused.code, message: refused.message, data: refused.data },
            id: typeof id === 'string' || typeof id === 'number' ? id : null,
          });
      }
      // The common case, a plain tools/call, skips the per-request SDK server (same answer, less work).
      const plain = plainToolCall(request.headers, body, view);
      if (plain) return serveToolCall(reply, view, plain, authInfo);
      const webRequest = await toWebRequest(request.raw, body);
      if (!(await isLegacyRequest(webRequest, body))) {
        return reply.send(
          await gateway.stateless
            .handler(view)
            .fetch(webRequest, { parsedBody: body, ...(authInfo ? { authInfo } : {}) }),
        );
      }
    }
    if (request.method !== 'POST' || !isInitializeRequest(body)) {
      return replyJsonRpcError(
        reply,
        400,
        -32000,
        'Bad Request: no Mcp-Session-Id header; send initialize first to open a session',
      );
    }
    const id = randomUUID();
    const session = gateway.openSession(view, id);
    const transport = new SessionTransport({
      sessionId: id,
      onsessioninitialized: () => {
        live.set(id, { session, transport, owner });
      },
    });
    transport.onclose = () => {
      live.delete(id);
      void gateway.closeSession(session);
    };
    await session.server.connect(transport);
    reply.hijack();
    await transport.handleRequest(request.raw, reply.raw, body);
    if (!live.has(id)) await transport.close();
  };

  const serveToolCall = async (
    reply: FastifyReply,
    view: CatalogView,
    call: PlainToolCall,
    authInfo: AuthInfo | undefined,
  ): Promise<void> => {
    // The client hanging up before the answer cancels the call upstream, as on the SDK path.
    const gone = new AbortController();
    const response = reply.raw;
    const onClose = () => {
      if (!response.writableFinished) gone.abort();
    };
    response.once('close', onClose);
    try {
      const answer = await gateway.stateless.serveToolCall(view, call, authInfo, gone.signal);
      // One write, as the session transport answers (no hooks run on send: none are registered).
      reply.hijack();
      response.writeHead(answer.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer.body),
      });
      response.end(answer.body);
    } finally {
      response.off('close', onClose);
    }
  };

  const withView =
    (endpoint: (request: FastifyRequest) => McpEndpoint) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      let view: CatalogView;
      try {
        view = await scopedView(options, request, endpoint(request));
      } catch (error) {
        if (!isZiggieError(error)) throw error;
        return replyJsonRpcError(reply, error.status, error.jsonRpcCode, error.message);
      }
      return handle(request, reply, view);
    };

  const methods = ['GET', 'POST', 'DELETE'] as const;
  // Listing is the floor on MCP endpoints; tools/call needs mcp.tools.execute (gateToolCalls, and the handlers).
  const config = { access: 'mcp.tools.list' } as const;
  app.route({ method: [...methods], url: '/mcp', config, handler: withView(() => ({ kind: 'aggregate' })) });
  app.route({
    method: [...methods],
    url: '/servers/:name/mcp',
    config,
    handler: withView((request) => ({ kind: 'server', server: (request.params as { name: string }).name })),
  });
  app.route({
    method: [...methods],
    url: '/workspaces/:ws/mcp',
    config,
    handler: withView((request) => ({ kind: 'workspace', workspace: (request.params as { ws: string }).ws })),
  });
}

function isInitializeRequest(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (m) => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize',
  );
}

function replyJsonRpcError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send({ jsonrpc: '2.0', error: { code, message }, id: null });
}
