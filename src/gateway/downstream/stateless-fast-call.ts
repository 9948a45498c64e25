import type { IncomingHttpHeaders } from 'node:http';
import {
  type AuthInfo,
  type CallToolRequest,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  classifyInboundRequest,
  isJsonContentType,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  SERVER_INFO_META_KEY,
} from '@modelcontextprotocol/server';
import type { CatalogView } from '../view.ts';
import { toProtocolError } from './errors.ts';
import type { SessionServices } from './session-server.ts';
import { runStatelessToolCall } from './stateless-tool-call.ts';

/**
 * The fast lane for the most common 2026-07-28 request: a plain `tools/call`. The SDK's per-request
 * handler (`StatelessEndpoints`) builds a whole MCP server for every request, converts it to a web
 * `Request` and answers through a web `Response`; for a plain call that is most of the gateway's
 * cost (about 330 µs of CPU per call against 135 µs for the same call in a 2025 session). This lane
 * serves exactly the requests the SDK would serve with a JSON answer and nothing else on the wire,
 * through the same tool-call code (`runStatelessToolCall`), and encodes the answer the way the SDK
 * does (`resultType`, the server's identity in `_meta`). Anything else — progress, log levels,
 * retried rounds, tasks, other methods, and every request the SDK would refuse or might answer
 * differently — is left to the SDK path, so the lane never has to reproduce an error ladder.
 */

/** A `tools/call` the fast lane serves. */
export interface PlainToolCall {
  readonly id: string | number;
  readonly params: CallToolRequest['params'];
  /** The request's `_meta` envelope. */
  readonly envelope: Record<string, unknown>;
}

/** The answer: the HTTP status and the JSON-RPC response as text. */
export interface FastAnswer {
  readonly status: number;
  readonly body: string;
}

/** `params` keys of a plain call; anything else (`task`, `inputResponses`, `requestState`) is not. */
const PLAIN_PARAMS = new Set(['name', 'arguments', '_meta']);
/** `_meta` keys of a plain call: no `progressToken`, no log level, no trace context. */
const PLAIN_META = new Set([PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY]);
/**
 * The envelope revisions the lane serves. The SDK does not export its list of modern revisions; a
 * revision not named here goes the SDK path, which serves it or answers with its error.
 */
const MODERN_VERSIONS: ReadonlySet<unknown> = new Set(['2026-07-28']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(object: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key in object) if (!allowed.has(key)) return false;
  return true;
}

/**
 * The plain `tools/call` in this POST, or undefined when the SDK path must serve it. The standard
 * headers must agree with the body exactly (the SDK answers disagreements with its own errors), and
 * the SDK's own classifier must call the request modern (it validates the envelope).
 */
export function plainToolCall(
  headers: IncomingHttpHeaders,
  body: unknown,
  view: CatalogView,
): PlainToolCall | undefined {
  if (!isPlainObject(body) || body.method !== 'tools/call' || body.jsonrpc !== '2.0') return undefined;
  const { id, params } = body;
  if ((typeof id !== 'string' && typeof id !== 'number') || !isPlainObject(params)) return undefined;
  const { name, arguments: args, _meta: envelope } = params;
  if (typeof name !== 'string' || (args !== undefined && !isPlainObject(args))) return undefined;
  if (!isPlainObject(envelope) || !onlyKeys(params, PLAIN_PARAMS) || !onlyKeys(envelope, PLAIN_META))
    return undefined;
  const version = envelope[PROTOCOL_VERSION_META_KEY];
  if (typeof version !== 'string' || !MODERN_VERSIONS.has(version)) return undefined;
  const protocolVersionHeader = headers['mcp-protocol-version'];
  const mcpMethodHeader = headers['mcp-method'];
  const mcpNameHeader = headers['mcp-name'];
  if (protocolVersionHeader !== version || mcpMethodHeader !== 'tools/call' || mcpNameHeader !== name)
    return undefined;
  if (!isJsonContentType(headers['content-type'])) return undefined;
  // Extensions (the Tasks extension above all) change how a call may be answered.
  const capabilities = envelope[CLIENT_CAPABILITIES_META_KEY];
  if (isPlainObject(capabilities) && capabilities.extensions !== undefined) return undefined;
  // An unknown tool is answered by the SDK path, with its error.
  if (!view.resolveTool(name)) return undefined;
  if (!knownGoodEnvelopes.admits(envelope, () => isModernRequest(body, protocolVersionHeader, name)))
    return undefined;
  return { id, params: params as CallToolRequest['params'], envelope };
}

/** The SDK's own classifier: is this a valid modern request, envelope included? */
function isModernRequest(body: Record<string, unknown>, version: string, name: string): boolean {
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    protocolVersionHeader: version,
    mcpMethodHeader: 'tools/call',
    mcpNameHeader: name,
    body,
  });
  return outcome.kind === 'modern' && outcome.classification.revision === version;
}

/**
 * Envelopes the SDK's classifier accepted. A client sends the same `_meta` (version, client info,
 * capabilities) with every request, and validating it is most of the classifier's cost (~12 µs of
 * the lane's ~20 µs); everything else the classifier checks, the lane checks itself above. Only
 * accepted envelopes are remembered, keyed by their JSON, in a bounded set.
 */
class EnvelopeCache {
  readonly #accepted = new Set<string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  admits(envelope: Record<string, unknown>, classify: () => boolean): boolean {
    const key = JSON.stringify(envelope);
    if (this.#accepted.has(key)) return true;
    if (!classify()) return false;
    if (this.#accepted.size >= this.#max) this.#accepted.clear();
    this.#accepted.add(key);
    return true;
  }
}

const knownGoodEnvelopes = new EnvelopeCache(1024);

/**
 * Serves a plain call: the tool is called as the SDK path would call it (held call, so an upstream
 * that asks for client input gets the client an `input_required` answer) and the answer encoded as
 * the SDK's per-request transport encodes a JSON answer.
 */
export async function serveFastToolCall(
  services: SessionServices,
  view: CatalogView,
  call: PlainToolCall,
  authInfo: AuthInfo | undefined,
  signal: AbortSignal,
): Promise<FastAnswer> {
  services.touch(view);
  try {
    // What the session server's handler checks first; HTTP requests always carry authInfo here.
    if (!authInfo?.scopes.includes('mcp.tools.execute')) {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, 'this method needs "mcp.tools.execute"', {
        code: 'PERMISSION_DENIED',
        missing: ['mcp.tools.execute'],
      });
    }
    const result = await runStatelessToolCall(services, view, { view }, call.params, {
      envelope: call.envelope,
      authInfo,
      signal,
      requestState: undefined,
      inputResponses: undefined,
      // A plain call asked for neither progress nor log messages: nothing is sent before the answer.
      notify: () => Promise.resolve(),
    });
    return { status: 200, body: resultText(call.id, result, services.serverInfo) };
  } catch (error) {
    const protocolError = toProtocolError(error, view.resolveTool(call.params.name)?.server);
    return { status: errorStatus(protocolError.code), body: errorText(call.id, protocolError) };
  }
}

/** A handler's error is HTTP 200, except a missing client capability (the SDK's transport: 400). */
function errorStatus(code: number): number {
  return code === ProtocolErrorCode.MissingRequiredClientCapability ? 400 : 200;
}

/** The result as the 2026-07-28 encoder stamps it: `resultType` and the server's identity in `_meta`. */
function resultText(id: string | number, result: object, serverInfo: unknown): string {
  const raw = result as Record<string, unknown>;
  let stamped = raw.resultType === undefined ? { ...raw, resultType: 'complete' } : raw;
  const meta = raw._meta;
  if (meta === undefined) stamped = { ...stamped, _meta: { [SERVER_INFO_META_KEY]: serverInfo } };
  else if (isPlainObject(meta) && meta[SERVER_INFO_META_KEY] === undefined)
    stamped = { ...stamped, _meta: { ...meta, [SERVER_INFO_META_KEY]: serverInfo } };
  return JSON.stringify({ result: stamped, jsonrpc: '2.0', id });
}

function errorText(id: string | number, error: ProtocolError): string {
  const data = (error as { data?: unknown }).data;
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    error: { code: error.code, message: error.message, ...(data !== undefined ? { data } : {}) },
  });
}
