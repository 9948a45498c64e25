import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Server } from '@modelcontextprotocol/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reuseJson } from '../gateway/downstream/json-text.ts';
import { SessionTransport } from './session-transport.ts';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};
const TOOLS = reuseJson({ tools: [{ name: 'echo', inputSchema: { type: 'object' as const } }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A node:http endpoint with one SDK `Server` + `SessionTransport` per session (as mcp-routes.ts has
 * them), serving tools that answer at once, report progress, ask the client to sample, or wait.
 */
class Endpoint {
  readonly transports = new Map<string, SessionTransport>();
  readonly errors: string[] = [];
  closed = 0;
  url = '';
  readonly #http: HttpServer;

  constructor(keepAliveMs?: number) {
    this.#http = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => {
        text += chunk;
      });
      req.on('end', () => {
        const body = text === '' ? undefined : JSON.parse(text);
        const id = req.headers['mcp-session-id'];
        const existing = typeof id === 'string' ? this.transports.get(id) : undefined;
        if (existing) return void existing.handleRequest(req, res, body);
        void this.#open(keepAliveMs).then((transport) => transport.handleRequest(req, res, body));
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#http.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#http.address() as AddressInfo).port}/mcp`;
  }

  async close(): Promise<void> {
    await Promise.all([...this.transports.values()].map((t) => t.close()));
    this.#http.closeAllConnections();
    await new Promise((resolve) => this.#http.close(resolve));
  }

  async #open(keepAliveMs: number | undefined): Promise<SessionTransport> {
    const server = new Server({ name: 'test', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler('tools/list', async () => TOOLS);
    server.setRequestHandler('tools/call', async (request, ctx) => {
      const { name, arguments: args } = request.params;
      const progressToken = request.params._meta?.progressToken;
      if (name === 'progress' && progressToken !== undefined) {
        await ctx.mcpReq.notify({
          method: 'notifications/progress',
          params: { progressToken, progress: 1, total: 2 },
        });
      }
      if (name === 'sample') {
        const answer = (await ctx.mcpReq.send({
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 },
        })) as { content: { text: string } };
        return { content: [{ type: 'text', text: `sampled: ${answer.content.text}` }] };
      }
      if (name === 'wait') await sleep(Number(args?.ms ?? 0));
      return { content: [{ type: 'text', text: `${name}: ${JSON.stringify(args ?? {})}` }] };
    });
    const id = randomUUID();
    const transport = new SessionTransport({
      sessionId: id,
      ...(keepAliveMs === undefined ? {} : { keepAliveMs }),
      onsessioninitialized: () => {
        this.transports.set(id, transport);
      },
    });
    transport.onclose = () => {
      this.closed++;
      this.transports.delete(id);
    };
    await server.connect(transport);
    // After connect: the SDK's Protocol wraps the handlers installed before it.
    const onerror = transport.onerror;
    transport.onerror = (error) => {
      this.errors.push(error.message);
      onerror?.(error);
    };
    return transport;
  }
}

/** A raw POST; returns the response with its text read. */
async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { response, text: await response.text() };
}

/** Opens a session with a raw initialize; returns its id. */
async function initialize(url: string): Promise<string> {
  const { response } = await post(url, INIT);
  const id = response.headers.get('mcp-session-id');
  if (!id) throw new Error(`no session id (${response.status})`);
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': id });
  return id;
}

/** Hands one request straight to a transport; resolves with the status and body it answered. */
function direct(
  transport: SessionTransport,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: { error: { code: number; message: string } } }> {
  return new Promise((resolve) => {
    const res = {
      writeHead: (status: number) => ({
        end: (text: string) => resolve({ status, body: JSON.parse(text) }),
      }),
    };
    void transport.handleRequest({ method, headers } as never, res as never, body);
  });
}

function sseMessages(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)));
}

describe('SessionTransport (Streamable HTTP sessions on node:http)', () => {
  let endpoint: Endpoint;

  beforeEach(async () => {
    endpoint = new Endpoint();
    await endpoint.listen();
  });
  afterEach(async () => {
    await endpoint.close();
  });

  it('answers a request with one JSON body carrying the session id', async () => {
    const { response, text } = await post(endpoint.url, INIT);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const id = response.headers.get('mcp-session-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(text)).toMatchObject({
      jsonrpc: '2.0',
      id: 0,
      result: { protocolVersion: '2025-11-25' },
    });

    const call = await post(
      endpoint.url,
      { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: { x: 1 } } },
      { 'mcp-session-id': id! },
    );
    expect(call.response.headers.get('content-type')).toBe('application/json');
    expect(call.response.headers.get('content-length')).toBe(String(Buffer.byteLength(call.text)));
    expect(JSON.parse(call.text)).toEqual({
      jsonrpc: '2.0',
      id: 'a',
      result: { content: [{ type: 'text', text: 'echo: {"x":1}' }] },
    });
  });

  it('writes a result marked with reuseJson from its cached text, with the request id', async () => {
    const id = await initialize(endpoint.url);
    for (const requestId of [7, 'seven']) {
      const { response, text } = await post(
        endpoint.url,
        { jsonrpc: '2.0', id: requestId, method: 'tools/list' },
        { 'mcp-session-id': id },
      );
      expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: requestId, result: TOOLS });
      expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    }
    const batch = await post(
      endpoint.url,
      [
        { jsonrpc: '2.0', id: 8, method: 'tools/list' },
        { jsonrpc: '2.0', id: 9, method: 'ping' },
      ],
      { 'mcp-session-id': id },
    );
    expect(JSON.parse(batch.text)).toEqual([
      { jsonrpc: '2.0', id: 8, result: TOOLS },
      { jsonrpc: '2.0', id: 9, result: {} },
    ]);
    expect(batch.response.headers.get('content-length')).toBe(String(Buffer.byteLength(batch.text)));
  });

  it('answers a batch with a JSON array, and notifications alone with 202', async () => {
    const id = await initialize(endpoint.url);
    const batch = await post(
      endpoint.url,
      [
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { ms: 30 } } },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo' } },
        { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      ],
      { 'mcp-session-id': id },
    );
    expect(batch.response.headers.get('content-type')).toBe('application/json');
    const answers = JSON.parse(batch.text) as Array<{ id: number }>;
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2]);

    const notification = await post(
      endpoint.url,
      { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      { 'mcp-session-id': id },
    );
    expect(notification.response.status).toBe(202);
    expect(notification.text).toBe('');
  });

  it('turns the answer into an SSE stream when progress must go before the result', async () => {
    const id = await initialize(endpoint.url);
    const { response, text } = await post(
      endpoint.url,
      {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'progress', _meta: { progressToken: 'p' } },
      },
      { 'mcp-session-id': id },
    );
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('mcp-session-id')).toBe(id);
    expect(sseMessages(text)).toEqual([
      {
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken: 'p', progress: 1, total: 2 },
      },
      { jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: 'progress: {}' }] } },
    ]);
  });

  it('serves the SDK client: progress and a sampling request reach it on the call, then the result', async () => {
    const client = new Client({ name: 'c', version: '1' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      model: 'm',
      content: { type: 'text', text: 'yes' },
    }));
    await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url)));
    const progress: number[] = [];
    const result = await client.callTool({ name: 'progress' }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1]);
    expect(result.content).toEqual([{ type: 'text', text: 'progress: {}' }]);
    const sampled = await client.callTool({ name: 'sample' });
    expect(sampled.content).toEqual([{ type: 'text', text: 'sampled: yes' }]);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    await client.close();
  });

  it('sends messages not tied to a request on the GET stream, one per session', async () => {
    const id = await initialize(endpoint.url);
    const get = await fetch(endpoint.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': id },
    });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('text/event-stream');
    const second = await fetch(endpoint.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': id },
    });
    expect(second.status).toBe(409);
    await endpoint.transports.get(id)!.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    const reader = get.body!.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    expect(sseMessages(value!)).toEqual([{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]);
    await reader.cancel();
    // The stream is gone: a new GET is accepted.
    await sleep(50);
    const third = await fetch(endpoint.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': id },
    });
    expect(third.status).toBe(200);
    await third.body?.cancel();
  });

  it('refuses a response with no request to answer', async () => {
    const id = await initialize(endpoint.url);
    await expect(endpoint.transports.get(id)!.send({ jsonrpc: '2.0', id: 99, result: {} })).rejects.toThrow(
      /No connection established for request ID: 99/,
    );
  });

  it('ends the session on DELETE: closed, and unknown afterwards', async () => {
    const id = await initialize(endpoint.url);
    const transport = endpoint.transports.get(id)!;
    const deleted = await fetch(endpoint.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    expect(deleted.status).toBe(200);
    expect(endpoint.closed).toBe(1);
    const after = await direct(
      transport,
      'POST',
      { ...HEADERS, 'mcp-session-id': id },
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
      },
    );
    expect([after.status, after.body.error.code]).toEqual([404, -32001]);
  });

  it('answers bad requests with the SDK transport statuses and JSON-RPC errors', async () => {
    const id = await initialize(endpoint.url);
    const session = { 'mcp-session-id': id };
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const cases: Array<[unknown, Record<string, string>, number, number, RegExp]> = [
      [ping, { ...session, accept: 'application/json' }, 406, -32000, /Not Acceptable/],
      [ping, { ...session, 'content-type': 'text/plain' }, 415, -32000, /Unsupported Media Type/],
      [{ jsonrpc: '2.0', id: 1 }, session, 400, -32700, /Invalid JSON-RPC message/],
      [Array.from({ length: 101 }, () => ping), session, 400, -32600, /Batch must not exceed 100/],
      [INIT, session, 400, -32600, /already initialized/],
      [ping, { 'mcp-session-id': 'other' }, 404, -32001, /Session not found/],
      [
        ping,
        { ...session, 'mcp-protocol-version': '1999-01-01' },
        400,
        -32000,
        /Unsupported protocol version/,
      ],
    ];
    for (const [body, headers, status, code, message] of cases) {
      const answer = await direct(endpoint.transports.get(id)!, 'POST', { ...HEADERS, ...headers }, body);
      expect([answer.status, answer.body.error.code]).toEqual([status, code]);
      expect(answer.body.error.message).toMatch(message);
    }
    const get = await fetch(endpoint.url, { headers: { accept: 'application/json', ...session } });
    expect(get.status).toBe(406);
    expect(endpoint.errors.length).toBeGreaterThanOrEqual(cases.length);
  });

  it('turns a long-pending answer into an SSE stream with keep-alive comments', async () => {
    await endpoint.close();
    endpoint = new Endpoint(40);
    await endpoint.listen();
    const id = await initialize(endpoint.url);
    const { response, text } = await post(
      endpoint.url,
      { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'wait', arguments: { ms: 150 } } },
      { 'mcp-session-id': id },
    );
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(text).toContain(': keepalive\n\n');
    expect(sseMessages(text)).toEqual([
      { jsonrpc: '2.0', id: 5, result: { content: [{ type: 'text', text: 'wait: {"ms":150}' }] } },
    ]);
  });

  it('reports an answer whose client went away as undeliverable', async () => {
    const id = await initialize(endpoint.url);
    const controller = new AbortController();
    const pending = fetch(endpoint.url, {
      method: 'POST',
      headers: { ...HEADERS, 'mcp-session-id': id },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 6,
        method: 'tools/call',
        params: { name: 'wait', arguments: { ms: 100 } },
      }),
      signal: controller.signal,
    });
    await sleep(30);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await sleep(150);
    expect(endpoint.errors).toContainEqual(expect.stringMatching(/request ID 6 is undeliverable/));
    // The session goes on.
    const { text } = await post(
      endpoint.url,
      { jsonrpc: '2.0', id: 7, method: 'ping' },
      { 'mcp-session-id': id },
    );
    expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: 7, result: {} });
  });

  it('ends open streams when the session closes', async () => {
    const id = await initialize(endpoint.url);
    const pending = post(
      endpoint.url,
      { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'wait', arguments: { ms: 200 } } },
      { 'mcp-session-id': id },
    );
    await sleep(30);
    await endpoint.transports.get(id)!.close();
    const { response, text } = await pending;
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(sseMessages(text)).toEqual([]);
  });
});
