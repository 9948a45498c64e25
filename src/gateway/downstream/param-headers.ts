import type { IncomingHttpHeaders } from 'node:http';
import { PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';
import type { CatalogView } from '../view.ts';

/**
 * `Mcp-Param-*` headers (SEP-2243, 2026-07-28 Streamable HTTP): a tool whose input schema marks an
 * argument with `x-mcp-header: "<Name>"` gets that argument mirrored in an `Mcp-Param-<Name>` header,
 * so that proxies and load balancers can route on it without reading the body. The server MUST refuse
 * a request whose header is missing while the body carries the value, or disagrees with it, or
 * carries an invalid Base64 sentinel (`=?base64?…?=`). The SDK checks this only for `McpServer`
 * instances (its validator is not public); Ziggie's endpoints check it here, before any dispatch.
 */

/** One argument mirrored in a header: where it is in `arguments`, the header's suffix, its type. */
export interface ParamHeaderDeclaration {
  readonly path: readonly string[];
  readonly headerName: string;
  readonly type: string | undefined;
}

/** A refusal: HTTP 400, JSON-RPC `-32020` (header mismatch), naming the disagreeing pair. */
export interface ParamHeaderRejection {
  readonly status: 400;
  readonly code: -32020;
  readonly message: string;
  readonly data: { mismatch: { header: string; body: string } };
}

const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CANONICAL_DECIMAL = /^-?\d+(\.\d+)?$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Declarations per input schema object (a catalog's schemas are stable until the next listing). */
const declarationsBySchema = new WeakMap<object, readonly ParamHeaderDeclaration[]>();

/** The `x-mcp-header` declarations of an input schema, on properties reachable through `properties`. */
export function paramHeaderDeclarations(inputSchema: object): readonly ParamHeaderDeclaration[] {
  let declarations = declarationsBySchema.get(inputSchema);
  if (!declarations) {
    const found: ParamHeaderDeclaration[] = [];
    const visit = (node: unknown, path: string[]) => {
      if (typeof node !== 'object' || node === null) return;
      const schema = node as Record<string, unknown>;
      const headerName = schema['x-mcp-header'];
      if (path.length > 0 && typeof headerName === 'string' && headerName !== '') {
        found.push({ path, headerName, type: typeof schema.type === 'string' ? schema.type : undefined });
      }
      const properties = schema.properties;
      if (typeof properties === 'object' && properties !== null) {
        for (const [key, child] of Object.entries(properties)) visit(child, [...path, key]);
      }
    };
    visit(inputSchema, []);
    declarations = found;
    declarationsBySchema.set(inputSchema, declarations);
  }
  return declarations;
}

/**
 * The refusal a 2026-07-28 `tools/call` in this POST gets for its `Mcp-Param-*` headers, or
 * undefined: it is no such call, its tool declares no header, or the headers agree with the body.
 */
export function paramHeaderRejection(
  headers: IncomingHttpHeaders,
  body: unknown,
  view: CatalogView,
): ParamHeaderRejection | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { method, params } = body as { method?: unknown; params?: Record<string, unknown> };
  if (method !== 'tools/call' || typeof params !== 'object' || params === null) return undefined;
  const meta = params._meta as Record<string, unknown> | undefined;
  if (typeof meta?.[PROTOCOL_VERSION_META_KEY] !== 'string' || typeof params.name !== 'string')
    return undefined;
  const target = view.resolveTool(params.name);
  if (!target) return undefined;
  const declarations = paramHeaderDeclarations(target.entry.tool.inputSchema);
  if (declarations.length === 0) return undefined;
  return checkParamHeaders(declarations, params.arguments, headers);
}

/** Checks each declared argument present in `args` against its header. */
export function checkParamHeaders(
  declarations: readonly ParamHeaderDeclaration[],
  args: unknown,
  headers: IncomingHttpHeaders,
): ParamHeaderRejection | undefined {
  for (const declaration of declarations) {
    const bodyValue = valueAt(args, declaration.path);
    const bodyText = primitiveText(bodyValue);
    // No value (or not a primitive) in the body: no header is expected, a present one is ignored.
    if (bodyText === undefined) continue;
    const header = `Mcp-Param-${declaration.headerName}`;
    const where = declaration.path.join('.');
    const raw = headers[header.toLowerCase()];
    if (typeof raw !== 'string') {
      return mismatch(
        header,
        `the body carries ${where}=${JSON.stringify(bodyValue)} but the ${header} header is absent`,
      );
    }
    const decoded = decodeParamValue(raw);
    if (decoded === undefined)
      return mismatch(header, `the ${header} header carries an invalid Base64 sentinel value`);
    const numeric = declaration.type === 'integer' || declaration.type === 'number';
    const equal =
      numeric && typeof bodyValue === 'number' && CANONICAL_DECIMAL.test(decoded)
        ? Number(decoded) === bodyValue
        : decoded === bodyText;
    if (!equal) {
      return mismatch(
        header,
        `the ${header} header decodes to ${JSON.stringify(decoded)} but the body carries ${where}=${JSON.stringify(bodyValue)}`,
      );
    }
  }
  return undefined;
}

/** A header value as it reads: a Base64 sentinel decoded as UTF-8; undefined when it is invalid. */
export function decodeParamValue(value: string): string | undefined {
  if (!(value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX))) return value;
  const payload = value.slice(SENTINEL_PREFIX.length, value.length - SENTINEL_SUFFIX.length);
  if (!CANONICAL_BASE64.test(payload)) return undefined;
  try {
    return strictUtf8.decode(Buffer.from(payload, 'base64'));
  } catch {
    return undefined;
  }
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** How a primitive argument reads in a header; undefined for what is not mirrored. */
function primitiveText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Number.isInteger(value) && !Number.isSafeInteger(value) ? undefined : String(value);
  }
  return undefined;
}

function mismatch(header: string, body: string): ParamHeaderRejection {
  return {
    status: 400,
    code: -32020,
    message: `Bad Request: the request headers and body disagree: ${body}`,
    data: { mismatch: { header, body } },
  };
}
