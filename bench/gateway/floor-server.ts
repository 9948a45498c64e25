/**
 * The benchmark's floor: the least an MCP server over Streamable HTTP can do. A bare `node:http`
 * JSON-RPC endpoint that answers initialize, notifications/initialized, ping, tools/list and
 * tools/call (an `echo` tool) itself, with plain JSON responses and an `Mcp-Session-Id` header —
 * just enough for the official SDK client. GET (the optional SSE stream) is refused with 405,
 * which the spec allows and the SDK client accepts.
 *
 * A request whose `_meta` names protocol revision 2026-07-28 is answered statelessly, as that
 * revision wants (`server/discover`, `tools/list`, `tools/call`; `resultType`, cache hints and the
 * server's identity in `_meta`, as the SDK v2 server stamps them): the floor of a 2026 client.
 *
 * Run: node bench/gateway/floor-server.ts — prints `LISTENING <url>` on stdout, serves on a random
 * loopback port, and exits when stdin closes (the parent died) or on SIGTERM/SIGINT.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const ECHO_TOOL = {
  name: 'echo',
  description: 'Echoes back the input string',
  inputSchema: {
    type: 'object',
    properties: { message: { type: 'string', description: 'Message to echo' } },
    required: ['message'],
  },
};

interface JsonRpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
}

const sessions = new Set<string>();

const MODERN = '2026-07-28';
const SERVER_INFO = { name: 'floor', version: '1.0.0' };
const RESULT_META = { 'io.modelcontextprotocol/serverInfo': SERVER_INFO };

/** The protocol revision a request's `_meta` envelope names, if any. */
function envelopeVersion(message: JsonRpcMessage): unknown {
  const meta = message.params?._meta as Record<string, unknown> | undefined;
  return meta?.['io.modelcontextprotocol/protocolVersion'];
}

/** A 2026-07-28 request: no session; every result carries `resultType` and the server's identity. */
function answerModern(message: JsonRpcMessage): unknown {
  const { id, method, params } = message;
  const complete = (result: Record<string, unknown>) => ({
    jsonrpc: '2.0',
    id,
    result: { ...result, resultType: 'complete', _meta: RESULT_META },
  });
  switch (method) {
    case 'server/discover':
      return complete({
        supportedVersions: [MODERN],
        capabilities: { tools: {} },
        ttlMs: 0,
        cacheScope: 'private',
      });
    case 'tools/list':
      return complete({ tools: [ECHO_TOOL], ttlMs: 0, cacheScope: 'private' });
    case 'tools/call': {
      const args = params?.arguments as { message?: unknown } | undefined;
      if (params?.name !== 'echo' || typeof args?.message !== 'string') {
        return { jsonrpc: '2.0', id, error: { code: -32602, message: 'unknown tool or bad arguments' } };
      }
      return complete({ content: [{ type: 'text', text: `Echo: ${args.message}` }] });
    }
    default:
      return { jsonrpc: '2.0', id, error: { code: -32601, message: `method not found: ${method}` } };
  }
}

function answer(message: JsonRpcMessage): unknown {
  const { id, method, params } = message;
  switch (method) {
    case 'initialize': {
      const requested = String(params?.protocolVersion ?? '');
      const protocolVersion = PROTOCOL_VERSIONS.includes(requested) ? requested : PROTOCOL_VERSIONS[0];
      return {
        jsonrpc: '2.0',
        id,
        result: {
          protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: 'floor', version: '1.0.0' },
        },
      };
    }
    case 'ping':
      return { jsonrpc: '2.0', id, result: {} };
    case 'tools/list':
      return { jsonrpc: '2.0', id, result: { tools: [ECHO_TOOL] } };
    case 'tools/call': {
      const args = params?.arguments as { message?: unknown } | undefined;
      if (params?.name !== 'echo' || typeof args?.message !== 'string') {
        return { jsonrpc: '2.0', id, error: { code: -32602, message: 'unknown tool or bad arguments' } };
      }
      return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `Echo: ${args.message}` }] } };
    }
    default:
      return { jsonrpc: '2.0', id, error: { code: -32601, message: `method not found: ${method}` } };
  }
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): ServerResponse {
  if (body === undefined) return res.writeHead(status, headers).end();
  const text = JSON.stringify(body);
  return res
    .writeHead(status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    })
    .end(text);
}

function handle(req: IncomingMessage, res: ServerResponse, raw: string): ServerResponse {
  if (req.method === 'GET') return send(res, 405, undefined, { allow: 'POST, DELETE' });
  const sessionId = req.headers['mcp-session-id'];
  if (req.method === 'DELETE') {
    if (typeof sessionId === 'string') sessions.delete(sessionId);
    return send(res, 200);
  }
  if (req.method !== 'POST') return send(res, 405, undefined, { allow: 'POST, DELETE' });
  let message: JsonRpcMessage;
  try {
    message = JSON.parse(raw) as JsonRpcMessage;
  } catch {
    return send(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
  }
  if (envelopeVersion(message) === MODERN) {
    if (message.id === undefined) return send(res, 202);
    return send(res, 200, answerModern(message));
  }
  if (message.method === 'initialize') {
    const id = randomUUID();
    sessions.add(id);
    return send(res, 200, answer(message), { 'mcp-session-id': id });
  }
  if (typeof sessionId !== 'string' || !sessions.has(sessionId)) {
    return send(res, 404, {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32001, message: 'Session not found' },
    });
  }
  // A notification (no id) or a response: accepted, nothing to answer.
  if (message.id === undefined || message.method === undefined) return send(res, 202);
  return send(res, 200, answer(message));
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`LISTENING http://127.0.0.1:${address.port}/mcp\n`);
});

const shutdown = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown).resume();
