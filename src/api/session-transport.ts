import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthInfo,
  isJsonContentType,
  type JSONRPCMessage,
  type MessageExtraInfo,
  parseJSONRPCMessage,
  type RequestId,
  SUPPORTED_PROTOCOL_VERSIONS,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { reusedJsonBytes, reusedJsonText } from '../gateway/downstream/json-text.ts';

/** The SDK's limits and timings, kept so clients see the same server whichever transport runs. */
const MAX_BATCH_SIZE = 100;
const DEFAULT_KEEP_ALIVE_MS = 15_000;

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

export interface SessionTransportOptions {
  /** The `Mcp-Session-Id` this session answers to, given out in the `initialize` response. */
  sessionId: string;
  /** Called once `initialize` is accepted: from then on the session may be routed to. */
  onsessioninitialized?: (sessionId: string) => void;
  /** Interval of `: keepalive` comments on SSE streams, and how long an answer may stay pending
   * before its POST turns into an SSE stream to carry them (ms). */
  keepAliveMs?: number;
}

/** An HTTP request of the client with a Node `req.auth` (set by the route from the caller's identity). */
type AuthedRequest = IncomingMessage & { auth?: AuthInfo };

/**
 * The server side of MCP Streamable HTTP (2025-11-25) for ONE session, on Node's own `http`
 * objects: one instance per session, never shared (a shared transport leaked one client's answers
 * to another: CVE-2025-66414).
 *
 * A POST's answer is plain JSON, written at once in one write, when the answer is the first thing
 * to send (the common case: no stream is needed). It becomes an SSE stream as soon as something
 * related must go out before it — progress, a log message, a sampling / elicitation / roots request
 * — or when it has been pending for `keepAliveMs` (so keep-alive comments can flow). A GET opens
 * the session's stream for messages not tied to a request; DELETE ends the session.
 *
 * The checks, status codes and JSON-RPC errors are those of the SDK's
 * `WebStandardStreamableHTTPServerTransport`, which this replaces for sessions: it answered every
 * POST as SSE (three writes) through web `Request`/`Response` objects, the larger part of a call's
 * cost through the gateway. No resumability (no event store), as before.
 */
export class SessionTransport implements Transport {
  readonly sessionId: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  readonly #onsessioninitialized: ((sessionId: string) => void) | undefined;
  readonly #keepAliveMs: number;
  #supportedVersions: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS;
  #started = false;
  #initialized = false;
  #closed = false;
  /** The open POST exchange of every request not answered yet. */
  readonly #exchanges = new Map<RequestId, Exchange>();
  /** The GET stream, for messages not related to a request. */
  #standalone: SseStream | undefined;
  /** Turns answers pending for `keepAliveMs` into SSE streams (one timer per session, not per request). */
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: SessionTransportOptions) {
    this.sessionId = options.sessionId;
    this.#onsessioninitialized = options.onsessioninitialized;
    this.#keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('Transport already started');
    this.#started = true;
  }

  setSupportedProtocolVersions(versions: string[]): void {
    this.#supportedVersions = versions;
  }

  /** Answers one HTTP request of this session; `body` is the parsed JSON of a POST. */
  async handleRequest(req: AuthedRequest, res: ServerResponse, body: unknown): Promise<void> {
    if (this.#closed) return this.#refuse(res, 404, -32001, 'Session not found');
    switch (req.method) {
      case 'POST':
        return this.#post(req, res, body);
      case 'GET':
        return this.#get(req, res);
      case 'DELETE':
        return this.#delete(req, res);
      default:
        return this.#refuse(res, 405, -32000, 'Method not allowed.', { allow: 'GET, POST, DELETE' });
    }
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const isResponse = 'result' in message || 'error' in message;
    const requestId = isResponse ? (message as { id: RequestId }).id : options?.relatedRequestId;
    if (requestId === undefined) {
      if (isResponse) {
        throw new Error(
          'Cannot send a response on a standalone SSE stream unless resuming a previous client request',
        );
      }
      this.#standalone?.write(message);
      return;
    }
    const exchange = this.#exchanges.get(requestId);
    if (!exchange) throw new Error(`No connection established for request ID: ${String(requestId)}`);
    if (!isResponse) {
      exchange.relate(message);
      return;
    }
    if (!exchange.answer(requestId, message)) return;
    for (const id of exchange.ids) this.#exchanges.delete(id);
    if (exchange.gone) {
      this.onerror?.(
        new Error(
          `Response for request ID ${String(requestId)} is undeliverable: the client closed its stream`,
        ),
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const exchange of new Set(this.#exchanges.values())) exchange.abandon();
    this.#exchanges.clear();
    this.#standalone?.end();
    this.#standalone = undefined;
    this.onclose?.();
  }

  #post(req: AuthedRequest, res: ServerResponse, body: unknown): undefined {
    const accept = req.headers.accept;
    if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) {
      return this.#refuse(
        res,
        406,
        -32000,
        'Not Acceptable: Client must accept both application/json and text/event-stream',
      );
    }
    if (!isJsonContentType(req.headers['content-type'] ?? null)) {
      return this.#refuse(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    }
    if (body === undefined) return this.#refuse(res, 400, -32700, 'Parse error: Invalid JSON');
    if (Array.isArray(body) && body.length > MAX_BATCH_SIZE) {
      return this.#refuse(
        res,
        400,
        -32600,
        `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`,
      );
    }
    let messages: JSONRPCMessage[];
    try {
      messages = Array.isArray(body) ? body.map((m) => parseJSONRPCMessage(m)) : [parseJSONRPCMessage(body)];
    } catch (error) {
      this.onerror?.(error as Error);
      return this.#refuse(res, 400, -32700, 'Parse error: Invalid JSON-RPC message');
    }
    const initializing = messages.some((m) => 'method' in m && m.method === 'initialize');
    if (initializing) {
      if (this.#initialized)
        return this.#refuse(res, 400, -32600, 'Invalid Request: Server already initialized');
      if (messages.length > 1) {
        return this.#refuse(res, 400, -32600, 'Invalid Request: Only one initialization request is allowed');
      }
      this.#initialized = true;
      this.#onsessioninitialized?.(this.sessionId);
    } else if (!this.#validSession(req, res)) {
      return;
    }
    const extra: MessageExtraInfo | undefined = req.auth ? { authInfo: req.auth } : undefined;
    const requestIds: RequestId[] = [];
    for (const m of messages) if ('method' in m && 'id' in m) requestIds.push(m.id);
    if (requestIds.length === 0) {
      // Notifications and responses only: accepted, nothing to answer.
      res.writeHead(202).end();
      for (const message of messages) this.onmessage?.(message, extra);
      return;
    }
    const exchange = new Exchange(res, this.sessionId, requestIds, this.#keepAliveMs);
    for (const id of requestIds) this.#exchanges.set(id, exchange);
    if (this.#keepAliveMs > 0) {
      this.#sweeper ??= setInterval(() => this.#upgradePending(), this.#keepAliveMs).unref();
    }
    for (const message of messages) this.onmessage?.(message, extra);
  }

  #get(req: IncomingMessage, res: ServerResponse): undefined {
    if (!req.headers.accept?.includes('text/event-stream')) {
      return this.#refuse(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
    }
    if (!this.#validSession(req, res)) return;
    if (this.#standalone && !this.#standalone.ended) {
      return this.#refuse(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
    }
    const stream = new SseStream(res, this.sessionId, this.#keepAliveMs);
    res.on('close', () => {
      if (this.#standalone === stream) this.#standalone = undefined;
    });
    this.#standalone = stream;
  }

  async #delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#validSession(req, res)) return;
    res.writeHead(200).end();
    await this.close();
  }

  /** Answers pending for at least `keepAliveMs` become SSE streams, so keep-alive comments can flow. */
  #upgradePending(): void {
    const cutoff = Date.now() - this.#keepAliveMs;
    for (const exchange of this.#exchanges.values()) if (exchange.startedAt <= cutoff) exchange.upgrade();
  }

  /** The session and protocol-version headers of a request after `initialize`; refused otherwise. */
  #validSession(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.#initialized) {
      this.#refuse(res, 400, -32000, 'Bad Request: Server not initialized');
      return false;
    }
    const sessionId = req.headers['mcp-session-id'];
    if (!sessionId) {
      this.#refuse(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return false;
    }
    if (sessionId !== this.sessionId) {
      this.#refuse(res, 404, -32001, 'Session not found');
      return false;
    }
    const version = req.headers['mcp-protocol-version'];
    if (typeof version === 'string' && !this.#supportedVersions.includes(version)) {
      this.#refuse(
        res,
        400,
        -32000,
        `Bad Request: Unsupported protocol version: ${version} (supported versions: ${this.#supportedVersions.join(', ')})`,
      );
      return false;
    }
    return true;
  }

  /** An HTTP error with a JSON-RPC error body (`id: null`), reported to `onerror` as the SDK does. */
  #refuse(
    res: ServerResponse,
    status: number,
    code: number,
    message: string,
    headers: Record<string, string> = {},
  ): undefined {
    this.onerror?.(new Error(message));
    const text = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
    res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(text);
  }
}

/** The JSON text of an outgoing message; a reused result (`reuseJson`) is not serialised again. */
function serialize(message: JSONRPCMessage): string {
  const result = 'result' in message ? reusedJsonText(message.result) : undefined;
  if (result === undefined) return JSON.stringify(message);
  return `${envelopeHead(message)}${result}}`;
}

/** `{"jsonrpc":"2.0","id":…,"result":` of a response whose result is written separately. */
function envelopeHead(message: JSONRPCMessage): string {
  const { result: _, ...envelope } = message as { result: unknown };
  return `${JSON.stringify(envelope).slice(0, -1)},"result":`;
}

/** The JSON body of an answer as chunks: a reused result goes as its cached bytes, not re-encoded. */
function jsonChunks(message: JSONRPCMessage): Array<string | Buffer> {
  const result = 'result' in message ? reusedJsonBytes(message.result) : undefined;
  return result === undefined ? [JSON.stringify(message)] : [envelopeHead(message), result, '}'];
}

function sseEvent(message: JSONRPCMessage): string {
  return `event: message\ndata: ${serialize(message)}\n\n`;
}

/** An SSE response: headers at once, then one event per message and a comment every keep-alive. */
class SseStream {
  readonly #res: ServerResponse;
  readonly #keepAlive: NodeJS.Timeout | undefined;

  constructor(res: ServerResponse, sessionId: string, keepAliveMs: number, first = '') {
    this.#res = res;
    if (this.ended) return;
    res.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': sessionId });
    // Headers go out now: the client learns the stream is open before the first event.
    if (first) res.write(first);
    else res.flushHeaders();
    if (keepAliveMs > 0) {
      this.#keepAlive = setInterval(() => this.#comment(), keepAliveMs).unref();
      res.on('close', () => clearInterval(this.#keepAlive));
    }
  }

  get ended(): boolean {
    return this.#res.writableEnded || this.#res.destroyed;
  }

  write(message: JSONRPCMessage): void {
    if (!this.ended) this.#res.write(sseEvent(message));
  }

  end(): void {
    clearInterval(this.#keepAlive);
    if (!this.ended) this.#res.end();
  }

  #comment(): void {
    if (!this.ended) this.#res.write(': keepalive\n\n');
  }
}

/**
 * One POST carrying requests: answered with JSON while nothing else was sent, or as an SSE stream
 * once a related message had to go first (or the answer took `keepAliveMs`).
 */
class Exchange {
  readonly ids: readonly RequestId[];
  readonly #res: ServerResponse;
  readonly #sessionId: string;
  readonly #keepAliveMs: number;
  /** The request (or, for a batch, the set of requests) still to answer. */
  readonly #waiting: RequestId | Set<RequestId>;
  readonly startedAt = Date.now();
  /** Responses held for the JSON answer (a batch is answered all at once). */
  readonly #answers: JSONRPCMessage[] = [];
  #sse: SseStream | undefined;

  constructor(res: ServerResponse, sessionId: string, ids: RequestId[], keepAliveMs: number) {
    this.ids = ids;
    this.#res = res;
    this.#sessionId = sessionId;
    this.#keepAliveMs = keepAliveMs;
    this.#waiting = ids.length === 1 ? ids[0]! : new Set(ids);
  }

  /** The client closed the connection before the answer was complete. */
  get gone(): boolean {
    return this.#res.destroyed && !this.#res.writableFinished;
  }

  /** A notification or request tied to one of the requests: it goes first, so the answer streams. */
  relate(message: JSONRPCMessage): void {
    this.upgrade().write(message);
  }

  /** Records a response; true once every request of the exchange is answered (the exchange is over). */
  answer(id: RequestId, message: JSONRPCMessage): boolean {
    if (this.#sse) this.#sse.write(message);
    else this.#answers.push(message);
    const waiting = this.#waiting;
    if (typeof waiting === 'object') {
      waiting.delete(id);
      if (waiting.size > 0) return false;
    }
    if (this.#sse) this.#sse.end();
    else this.#writeJson();
    return true;
  }

  /** The session closed first: the stream ends without the answer (the client sees it cut). */
  abandon(): void {
    this.upgrade().end();
  }

  #writeJson(): void {
    const res = this.#res;
    if (res.destroyed) return;
    const answers = this.#answers;
    const chunks =
      answers.length === 1
        ? jsonChunks(answers[0]!)
        : ['[', ...answers.flatMap((answer, i) => [...(i > 0 ? [','] : []), ...jsonChunks(answer)]), ']'];
    const headers = { 'content-type': 'application/json', 'mcp-session-id': this.#sessionId };
    if (chunks.every((chunk) => typeof chunk === 'string')) {
      // One write: status line, headers and body together (Node joins a string body to the headers).
      const text = chunks.join('');
      res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    // A cached result: its bytes go as they are, the chunks gathered into one writev by the cork.
    let length = 0;
    for (const chunk of chunks) length += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    res.writeHead(200, { ...headers, 'content-length': length });
    res.cork();
    for (const chunk of chunks) res.write(chunk);
    res.end();
  }

  /** The answer as an SSE stream from now on (the responses held so far go first). */
  upgrade(): SseStream {
    if (this.#sse) return this.#sse;
    const held = this.#answers.splice(0).map(sseEvent).join('');
    this.#sse = new SseStream(this.#res, this.#sessionId, this.#keepAliveMs, held);
    return this.#sse;
  }
}
