import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ZiggieError } from '../core/errors.ts';
import { NO_CLIENT_INPUT } from '../gateway/downstream/session-registry.ts';
import type { Gateway } from '../gateway/gateway.ts';
import { healthWord, overallHealth } from '../gateway/health.ts';
import { invokeTool } from '../gateway/invoke-tool.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';
import { actorOf } from './route-access.ts';
import { normalizeServerEntry } from './server-input.ts';

const ServerQuery = z.object({ server: z.string().optional() });
const ExecuteBody = z.strictObject({
  tool: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()).optional(),
});
const ApproveBody = z.strictObject({ tool: z.string().min(1), server: z.string().optional() });

const tags: RouteDoc['tags'] = ['mcp-facade'];
const DOCS = {
  tools: {
    summary: "List the tools (all, or one server's)",
    tags,
    querystring: jsonSchemaOf(ServerQuery),
    response: {
      200: {
        description:
          '`{tools: [{name, server, upstreamName, description, inputSchema, changed}], server_count}`',
      },
    },
    'x-ziggie-errors': ['UPSTREAM_NOT_FOUND'],
  },
  execute: {
    summary: 'Call a tool (named as on /mcp)',
    tags,
    body: jsonSchemaOf(ExecuteBody),
    response: {
      200: { description: '`{success, result}`; `success` is false when the tool reported an error' },
    },
    'x-ziggie-errors': [
      'TOOL_NOT_FOUND',
      'TOOL_PENDING_APPROVAL',
      'TOOL_ARGUMENTS_INVALID',
      'UPSTREAM_UNAVAILABLE',
      'UPSTREAM_TIMEOUT',
      'UPSTREAM_CIRCUIT_OPEN',
      'UPSTREAM_ERROR',
    ],
  },
  health: {
    summary: 'Health of each upstream server',
    tags,
    response: {
      200: { description: '`{servers: {<name>: "healthy" | "stopped" | …}, overall, protocols}`' },
    },
  },
  servers: {
    summary: 'List the upstream servers (secrets redacted)',
    tags,
    response: { 200: { description: '`{servers: [{name, transport, …spec, source, status}]}`' } },
  },
  addServer: {
    summary: 'Add an upstream server at run time (stored)',
    tags,
    body: {
      type: 'object',
      description:
        'One `mcpServers` entry (`{command, args?, env?, cwd?}` or `{url, headers?}`, `type`/`transport`) plus its `name`.',
      required: ['name'],
      properties: { name: { type: 'string' } },
      additionalProperties: true,
    },
    response: { 201: { description: 'The server' } },
    'x-ziggie-errors': ['CONFLICT'],
  },
  removeServer: {
    summary: 'Remove a server added at run time',
    tags,
    response: { 204: { description: 'Removed', type: 'null' } },
    'x-ziggie-errors': ['UPSTREAM_NOT_FOUND', 'CONFLICT'],
  },
  stats: {
    summary: 'Per-tool call statistics',
    tags,
    querystring: jsonSchemaOf(ServerQuery),
    response: { 200: { description: '`{tools: [...]}`: calls, errors, average and max latency, last call' } },
  },
  approve: {
    summary: 'Approve a tool whose definition changed (pinning)',
    tags,
    body: jsonSchemaOf(ApproveBody),
    response: { 200: { description: '`{approved: {server, tool}}`' } },
    'x-ziggie-errors': ['TOOL_NOT_FOUND'],
  },
} satisfies Record<string, RouteDoc>;

/**
 * The seeds' REST facade over the gateway: `GET /api/mcp/tools`, `POST /api/mcp/execute`,
 * `GET /api/mcp/health`, plus run-time server management and tool approval.
 */
export async function mcpFacadeRoutes(
  app: FastifyInstance,
  { gateway }: { gateway: Gateway },
): Promise<void> {
  app.get('/api/mcp/tools', { config: { access: 'mcp.tools.list' }, schema: DOCS.tools }, async (request) => {
    const { server } = ServerQuery.parse(request.query);
    const view = server ? gateway.serverView(server) : gateway.aggregateView();
    gateway.touch(view);
    const tools = view.tools().map((t) => ({
      name: t.exposed.name,
      server: t.server,
      upstreamName: t.entry.tool.name,
      description: t.exposed.description ?? '',
      inputSchema: t.exposed.inputSchema,
      changed: t.entry.changed,
    }));
    return { tools, server_count: view.serverNames().length };
  });

  app.post(
    '/api/mcp/execute',
    { config: { access: 'mcp.tools.execute', rate: 'tool' }, schema: DOCS.execute },
    async (request) => {
      const body = ExecuteBody.parse(request.body);
      const view = gateway.aggregateView();
      // A REST caller cannot answer sampling/elicitation/roots: the upstream is told so at once.
      const result = await invokeTool(gateway, view, body.tool, body.arguments, {
        caller: { actor: actorOf(request), ip: request.ip },
        track: (server) => {
          const call = gateway.sessions.beginCall({ view }, server, NO_CLIENT_INPUT);
          return () => gateway.sessions.endCall(call);
        },
      });
      return { success: !result.isError, result };
    },
  );

  app.get('/api/mcp/health', { config: { access: 'mcp.tools.list' }, schema: DOCS.health }, async () => {
    const servers = gateway.servers();
    return {
      servers: Object.fromEntries(servers.map((s) => [s.spec.name, healthWord(s)])),
      overall: overallHealth(servers),
      // The protocol revision each connected upstream speaks (`2025-11-25`, `2026-07-28`, …).
      protocols: Object.fromEntries(
        servers.filter((s) => s.status.protocolVersion).map((s) => [s.spec.name, s.status.protocolVersion]),
      ),
    };
  });

  app.get('/api/mcp/servers', { config: { access: 'mcp.tools.list' }, schema: DOCS.servers }, async () => ({
    servers: gateway.servers().map((s) => ({ ...publicSpec(s.spec), source: s.source, status: s.status })),
  }));

  app.post(
    '/api/mcp/servers',
    { config: { access: 'mcp.admin' }, schema: DOCS.addServer },
    async (request, reply) => {
      const spec = normalizeServerEntry(request.body);
      const entry = await gateway.addServer(spec, actorOf(request));
      return reply.code(201).send({ ...publicSpec(entry.spec), source: entry.source, status: entry.status });
    },
  );

  app.delete(
    '/api/mcp/servers/:name',
    { config: { access: 'mcp.admin' }, schema: DOCS.removeServer },
    async (request, reply) => {
      await gateway.removeServer((request.params as { name: string }).name, actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get('/api/mcp/stats', { config: { access: 'mcp.tools.list' }, schema: DOCS.stats }, async (request) => {
    const { server } = ServerQuery.parse(request.query);
    return { tools: await gateway.callStats(server) };
  });

  app.post(
    '/api/mcp/tools/approve',
    { config: { access: 'mcp.admin' }, schema: DOCS.approve },
    async (request) => {
      const body = ApproveBody.parse(request.body);
      const target = body.server
        ? { server: body.server, tool: body.tool }
        : resolveExposed(gateway, body.tool);
      await gateway.approveTool(target.server, target.tool, actorOf(request));
      return { approved: target };
    },
  );
}

/** A tool named as on `/mcp` (`<server>__<tool>`), found among all tools including hidden ones. */
function resolveExposed(gateway: Gateway, exposed: string): { server: string; tool: string } {
  for (const entry of gateway.servers()) {
    const view = gateway.aggregateView();
    for (const t of gateway.catalog.listing(entry.spec.name)?.tools ?? []) {
      if (view.exposeName(entry.spec.name, t.tool.name) === exposed)
        return { server: entry.spec.name, tool: t.tool.name };
    }
  }
  throw new ZiggieError('TOOL_NOT_FOUND', `no tool "${exposed}"; give --server and the upstream tool name`, {
    tool: exposed,
  });
}

/** A spec as shown over the API: env and header values are secrets and never leave the process. */
function publicSpec(spec: Gateway['servers'] extends () => Array<{ spec: infer S }> ? S : never) {
  if (spec.transport === 'stdio') {
    return { ...spec, env: Object.fromEntries(Object.keys(spec.env).map((k) => [k, '<redacted>'])) };
  }
  return { ...spec, headers: Object.fromEntries(Object.keys(spec.headers).map((k) => [k, '<redacted>'])) };
}
