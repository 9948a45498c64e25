import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { z } from 'zod';
import type { RouteAccess } from '../core/access.ts';
import { ERROR_CODES, type ErrorCode } from '../core/errors.ts';
import { ZIGGIE_VERSION } from '../version.ts';

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = '/api/openapi.json';

/**
 * The JSON Schema (2020-12, the dialect of OpenAPI 3.1) of what a zod schema accepts. Request
 * bodies and query strings are validated by these zod schemas in the handlers; on a route they are
 * documentation only (see `registerOpenApi`).
 */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return json;
}

/** A route's `schema`: its documentation, plus `x-ziggie-errors`, the codes it may answer with besides the common ones. */
export type RouteDoc = FastifySchema & {
  summary: string;
  tags: [string, ...string[]];
  description?: string;
  'x-ziggie-errors'?: readonly ErrorCode[];
};

const ErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

const JsonRpcErrorBody = z.object({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string(), z.number(), z.null()]),
  error: z.object({
    code: z.number().int(),
    message: z.string(),
    data: z.object({ code: z.string() }).optional(),
  }),
});

const MCP_DOC = {
  summary: 'MCP endpoint (Streamable HTTP)',
  tags: ['mcp'],
  description:
    'The Model Context Protocol over Streamable HTTP, speaking 2025-11-25 (sessions: `initialize`, ' +
    '`Mcp-Session-Id`, a GET stream for server-to-client messages, DELETE to end the session) and ' +
    '2026-07-28 (stateless: each POST carries its protocol version in `_meta`). POST a JSON-RPC ' +
    'message (or batch) with `Accept: application/json, text/event-stream`; the answer is JSON or ' +
    'an SSE stream. `/mcp` serves every tool as `<server>__<tool>`, `/servers/<name>/mcp` one ' +
    'upstream with its own names, `/workspaces/<ws>/mcp` the tools of the servers a workspace may ' +
    'use. Errors are JSON-RPC errors; a refused request carries `WWW-Authenticate` (RFC 6750, RFC 9728). ' +
    '`tools/call` needs `mcp.tools.execute`. See docs/gateway.md.',
  response: {
    200: {
      description:
        'The JSON-RPC answer as JSON, or an SSE stream of messages; 202 for notifications and responses.',
      content: {
        'application/json': { schema: { description: 'A JSON-RPC response (or batch)' } },
        'text/event-stream': { schema: { type: 'string' } },
      },
    },
  },
} as const;

/** Routes left out of the document: Fastify's HEAD twins of GET routes. */
function hidden(method: string | string[]): boolean {
  return [method].flat().every((m) => m === 'HEAD');
}

function errorResponses(codes: Iterable<ErrorCode>, schemaRef: string): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description: list.join(', '),
        content: { 'application/json': { schema: { $ref: schemaRef } } },
      },
    ]),
  );
}

/** The error codes any route with this access and these inputs may answer with. */
function commonErrors(access: RouteAccess | undefined, schema: Record<string, unknown>): ErrorCode[] {
  return [
    ...(schema.body || schema.querystring || schema.params ? (['VALIDATION_FAILED'] as const) : []),
    ...(access === 'public'
      ? []
      : (['AUTH_REQUIRED', 'AUTH_INVALID', 'PERMISSION_DENIED', 'RATE_LIMITED'] as const)),
    'INTERNAL',
  ];
}

/**
 * Serves `GET /api/openapi.json`: an OpenAPI 3.1 document of every route registered after this,
 * built by `@fastify/swagger` from each route's `schema` and `config.access` (as `x-ziggie-access`
 * and its security). Route schemas document; they do not validate: the handlers validate with
 * zod and answer `{error: {code, message, details}}`, so Fastify's compilers are set to accept
 * every input and serialize with `JSON.stringify`.
 */
export async function registerOpenApi(app: FastifyInstance, options: { cookieName: string }): Promise<void> {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ziggie',
        version: ZIGGIE_VERSION,
        description:
          'REST API of Ziggie, a command center for AI agents and MCP servers, and its MCP endpoints. ' +
          'Each operation names the permission it needs in `x-ziggie-access` (`public`: no credentials; ' +
          '`authenticated`: any identity). Errors are `{"error": {"code", "message", "details?"}}`.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (`zgk_…`) or an access token (JWT) from `POST /api/auth/token`.',
          },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: options.cookieName,
            description: 'The session cookie set by `POST /api/auth/login`.',
          },
        },
        schemas: { Error: jsonSchemaOf(ErrorBody), JsonRpcError: jsonSchemaOf(JsonRpcErrorBody) },
      },
    },
    transform: ({ schema, url, route }) => {
      const access = route.config?.access;
      const mcp = url.endsWith('/mcp');
      const doc: Record<string, unknown> = { ...(mcp ? MCP_DOC : {}), ...(schema ?? {}) };
      if (hidden(route.method)) return { schema: { ...doc, hide: true }, url };
      // A wildcard is a path parameter named `*` to Fastify: give it a name in the document.
      const documentedUrl = url.replace(/\/\*$/, '/:path');
      const {
        'x-ziggie-errors': extra = [],
        response = {},
        ...rest
      } = doc as {
        'x-ziggie-errors'?: ErrorCode[];
        response?: Record<string, unknown>;
      };
      const errors = mcp
        ? errorResponses(
            ['AUTH_REQUIRED', 'PERMISSION_DENIED', 'VALIDATION_FAILED'],
            '#/components/schemas/JsonRpcError',
          )
        : errorResponses([...commonErrors(access, rest), ...extra], '#/components/schemas/Error');
      return {
        url: documentedUrl,
        schema: {
          ...rest,
          'x-ziggie-access': access,
          security: access === 'public' ? [] : mcp ? [{ bearer: [] }] : [{ bearer: [] }, { session: [] }],
          response: {
            ...(Object.keys(response).length ? response : { 200: { description: 'OK' } }),
            ...errors,
          },
        } as FastifySchema,
      };
    },
  });
  app.get(
    OPENAPI_PATH,
    {
      // The API's shape is no secret (it is this repository's); clients and tools fetch it first.
      config: { access: 'public' },
      schema: {
        summary: 'This OpenAPI 3.1 document',
        tags: ['meta'],
        response: { 200: { description: 'The OpenAPI document', type: 'object' } },
      } satisfies RouteDoc,
    },
    async () => app.swagger(),
  );
}
