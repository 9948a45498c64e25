import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { McpServer } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

const BOOTSTRAP = 'auth-test-bootstrap-token-0123456789abcdef';
const JSON_AND_SSE = 'application/json, text/event-stream';

/** An HTTP MCP upstream that records the Authorization header of every request it gets. */
async function recordingUpstream(): Promise<{
  url: string;
  seen: Array<string | undefined>;
  close(): Promise<void>;
}> {
  const seen: Array<string | undefined> = [];
  const server: Server = createServer(async (req, res) => {
    seen.push(req.headers.authorization);
    const mcp = new McpServer({ name: 'recorder', version: '1.0.0' });
    mcp.registerTool('echo', { inputSchema: z.object({ message: z.string() }) }, async ({ message }) => ({
      content: [{ type: 'text', text: `echo: ${message}` }],
    }));
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let harness: Harness;
let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
const keys: Record<string, { id: string; key: string }> = {};

async function api(path: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
  const { key, headers, ...rest } = init;
  return fetch(`${harness.baseUrl}${path}`, {
    ...rest,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(rest.body ? { 'content-type': 'application/json' } : {}),
      ...(headers as Record<string, string>),
    },
  });
}

/** One JSON-RPC message to an MCP endpoint, 2025 style (answered as JSON or one SSE event). */
async function rpc(path: string, key: string | undefined, message: object, session?: string) {
  const response = await api(path, {
    method: 'POST',
    key,
    headers: {
      accept: JSON_AND_SSE,
      'mcp-protocol-version': '2025-11-25',
      ...(session ? { 'mcp-session-id': session } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const text = await response.text();
  const data = text.startsWith('{') ? text : /^data: (.*)$/m.exec(text)?.[1];
  return { response, body: data ? JSON.parse(data) : undefined };
}

async function openSession(key: string | undefined): Promise<string> {
  const { response } = await rpc('/mcp', key, {
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  expect(response.status).toBe(200);
  const session = response.headers.get('mcp-session-id') ?? '';
  await rpc('/mcp', key, { method: 'notifications/initialized' }, session);
  return session;
}

async function modernClient(key: string): Promise<Client> {
  const client = new Client(
    { name: 'auth-test', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${harness.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

beforeAll(async () => {
  upstream = await recordingUpstream();
  const previous = process.env.ZIGGIE_BOOTSTRAP_TOKEN;
  process.env.ZIGGIE_BOOTSTRAP_TOKEN = BOOTSTRAP;
  try {
    harness = await startZiggie({
      auth: {
        mode: 'required',
        rateLimits: {
          roles: { viewer: { requestsPerMinute: 5 } },
          tiers: { L3: { toolCallsPerMinute: 2 } },
        },
      },
      mcpServers: {
        everything: everythingStdio(),
        recorder: { url: upstream.url, headers: { Authorization: 'Bearer upstream-secret' } },
      },
    });
  } finally {
    if (previous === undefined) delete process.env.ZIGGIE_BOOTSTRAP_TOKEN;
    else process.env.ZIGGIE_BOOTSTRAP_TOKEN = previous;
  }
  await waitFor(() => harness.ziggie.gateway.aggregateView().tools().length > 1, 30_000, 'the tools');
  // The L3 key below acts as a registered agent.
  const agent = await api('/api/agents', {
    method: 'POST',
    key: BOOTSTRAP,
    body: JSON.stringify({ id: 'micro-7', name: 'Micro 7', tier: 'L3' }),
  });
  expect(agent.status).toBe(201);
  for (const [name, body] of [
    ['viewer', { role: 'viewer' }],
    ['operator', { role: 'operator' }],
    ['other', { role: 'operator' }],
    ['l3', { agentId: 'micro-7', tier: 'L3' }],
  ] as const) {
    const response = await api('/api/keys', {
      method: 'POST',
      key: BOOTSTRAP,
      body: JSON.stringify({ name, ...body }),
    });
    expect(response.status).toBe(201);
    const created = (await response.json()) as { id: string; key: string };
    keys[name] = { id: created.id, key: created.key };
  }
}, 60_000);

afterAll(async () => {
  await harness?.stop();
  await upstream?.close();
});

const key = (name: string) => keys[name]?.key ?? '';

describe('MCP authorization', () => {
  it('answers 401 with an RFC 9728 challenge, and serves the protected resource metadata', async () => {
    const { response, body } = await rpc('/mcp', undefined, { id: 1, method: 'tools/list' });
    expect(response.status).toBe(401);
    expect(body.error.data.code).toBe('AUTH_REQUIRED');
    const challenge = response.headers.get('www-authenticate') ?? '';
    const url = /resource_metadata="([^"]+)"/.exec(challenge)?.[1] ?? '';
    expect(url).toBe(`${harness.baseUrl}/.well-known/oauth-protected-resource`);
    const metadata = await (await fetch(url)).json();
    expect(metadata).toMatchObject({ resource: `${harness.baseUrl}/`, bearer_methods_supported: ['header'] });
    expect(metadata.scopes_supported.slice(0, 3)).toEqual([
      'mcp.tools.list',
      'mcp.tools.execute',
      'mcp.admin',
    ]);
    const forMcp = await (await fetch(`${harness.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(forMcp.resource).toBe(`${harness.baseUrl}/mcp`);
    const bad = await rpc('/mcp', 'zgk_00000000_forged', { id: 1, method: 'tools/list' });
    expect(bad.response.status).toBe(401);
    expect(bad.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('lets a viewer list tools but not call them (2025 session): 403 naming mcp.tools.execute', async () => {
    const session = await openSession(key('viewer'));
    const list = await rpc('/mcp', key('viewer'), { id: 2, method: 'tools/list' }, session);
    expect(list.body.result.tools.length).toBeGreaterThan(1);
    const call = await rpc(
      '/mcp',
      key('viewer'),
      { id: 3, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'hi' } } },
      session,
    );
    expect(call.response.status).toBe(403);
    expect(call.response.headers.get('www-authenticate')).toContain(
      'error="insufficient_scope", scope="mcp.tools.execute"',
    );
    expect(call.body.error).toMatchObject({
      message: 'tools/call needs "mcp.tools.execute"',
      data: { code: 'PERMISSION_DENIED' },
    });
  });

  it('lets an operator call tools, 2025 and 2026 alike; a 2026 viewer is refused', async () => {
    const session = await openSession(key('operator'));
    const call = await rpc(
      '/mcp',
      key('operator'),
      { id: 2, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'hi' } } },
      session,
    );
    expect(call.body.result.content[0].text).toContain('hi');
    const modern = await modernClient(key('operator'));
    const result = await modern.callTool({ name: 'everything__echo', arguments: { message: 'modern' } });
    expect(JSON.stringify(result)).toContain('modern');
    await modern.close();
    const viewer = await modernClient(key('viewer'));
    await expect(viewer.callTool({ name: 'everything__echo', arguments: { message: 'no' } })).rejects.toThrow(
      /403|mcp\.tools\.execute/,
    );
    await viewer.close();
  });

  it('keeps a session to the identity that opened it', async () => {
    const session = await openSession(key('operator'));
    const stolen = await rpc('/mcp', key('other'), { id: 2, method: 'tools/list' }, session);
    expect(stolen.response.status).toBe(404);
    const own = await rpc('/mcp', key('operator'), { id: 3, method: 'tools/list' }, session);
    expect(own.response.status).toBe(200);
  });

  it('never forwards the client token upstream', async () => {
    upstream.seen.length = 0;
    const session = await openSession(key('operator'));
    const call = await rpc(
      '/mcp',
      key('operator'),
      { id: 2, method: 'tools/call', params: { name: 'recorder__echo', arguments: { message: 'x' } } },
      session,
    );
    expect(call.body.result.content[0].text).toBe('echo: x');
    expect(upstream.seen.length).toBeGreaterThan(0);
    expect(new Set(upstream.seen)).toEqual(new Set(['Bearer upstream-secret']));
  });

  it('validates the audience of access tokens: the endpoint URL or the configured audience', async () => {
    const mint = async (audience?: string) => {
      const response = await api('/api/auth/token', {
        method: 'POST',
        key: key('operator'),
        body: JSON.stringify(audience ? { audience } : {}),
      });
      return ((await response.json()) as { accessToken: string }).accessToken;
    };
    const forMcp = await mint(`${harness.baseUrl}/mcp`);
    expect((await rpc('/mcp', forMcp, { id: 1, method: 'tools/list' })).response.status).not.toBe(401);
    // Bound to /mcp: not the REST API, not another MCP endpoint.
    expect((await api('/api/auth/me', { key: forMcp })).status).toBe(401);
    expect(
      (await rpc('/servers/everything/mcp', forMcp, { id: 1, method: 'tools/list' })).response.status,
    ).toBe(401);
    const general = await mint();
    expect((await api('/api/auth/me', { key: general })).status).toBe(200);
    const elsewhere = await mint('https://elsewhere.example/mcp');
    const refused = await rpc('/mcp', elsewhere, { id: 1, method: 'tools/list' });
    expect(refused.response.status).toBe(401);
    expect(refused.body.error.message).toContain('"aud"');
  });
});

describe('API keys and sessions', () => {
  it('stop working at once when revoked, mid-session too', async () => {
    const created = await api('/api/keys', {
      method: 'POST',
      key: key('operator'),
      body: JSON.stringify({ name: 'short-lived', role: 'viewer' }),
    });
    const { id, key: fresh, prefix } = (await created.json()) as { id: string; key: string; prefix: string };
    expect(fresh.startsWith(prefix)).toBe(true);
    const session = await openSession(fresh);
    expect((await rpc('/mcp', fresh, { id: 2, method: 'tools/list' }, session)).response.status).toBe(200);
    const listed = (await (await api('/api/keys', { key: key('operator') })).json()) as {
      items: Array<Record<string, unknown>>;
    };
    expect(listed.items.find((k) => k.id === id)).toMatchObject({ prefix, revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(fresh);
    expect((await api(`/api/keys/${id}`, { method: 'DELETE', key: key('operator') })).status).toBe(204);
    const after = await rpc('/mcp', fresh, { id: 3, method: 'tools/list' }, session);
    expect(after.response.status).toBe(401);
    expect(after.body.error.message).toContain('revoked');
    expect((await api('/api/auth/me', { key: fresh })).status).toBe(401);
  });

  it('sign in with a password into an httpOnly SameSite cookie session, and sign out server-side', async () => {
    const made = await api('/api/users', {
      method: 'POST',
      key: BOOTSTRAP,
      body: JSON.stringify({ username: 'vera', role: 'viewer', password: 'a very good password' }),
    });
    expect(made.status).toBe(201);
    expect(await made.json()).not.toHaveProperty('passwordHash');
    const wrong = await api('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'vera', password: 'not the password' }),
    });
    expect(wrong.status).toBe(401);
    const login = await api('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'vera', password: 'a very good password' }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^ziggie_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const jar = { cookie: cookie.split(';')[0] ?? '' };
    const me = await api('/api/auth/me', { headers: jar });
    expect(await me.json()).toMatchObject({ method: 'session', role: 'viewer' });
    expect((await api('/api/users', { headers: jar })).status).toBe(403);
    const logout = await api('/api/auth/logout', { method: 'POST', headers: jar, body: '{}' });
    expect(await logout.json()).toEqual({ signedOut: true });
    expect((await api('/api/auth/me', { headers: jar })).status).toBe(401);
  });
});

describe('rate limits', () => {
  it('answer 429 with Retry-After per identity on REST', async () => {
    const viewer = (await (
      await api('/api/keys', {
        method: 'POST',
        key: BOOTSTRAP,
        body: JSON.stringify({ name: 'rl', role: 'viewer' }),
      })
    ).json()) as { key: string };
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const response = await api('/api/mcp/health', { key: viewer.key });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        expect((await response.json()).error.code).toBe('RATE_LIMITED');
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // The admin is not limited, the next viewer has its own bucket.
    expect((await api('/api/mcp/health', { key: BOOTSTRAP })).status).toBe(200);
  });

  it('answer 429 with Retry-After on MCP tool calls per tier', async () => {
    const session = await openSession(key('l3'));
    const call = (id: number) =>
      rpc(
        '/mcp',
        key('l3'),
        { id, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'x' } } },
        session,
      );
    expect((await call(2)).response.status).toBe(200);
    expect((await call(3)).response.status).toBe(200);
    const third = await call(4);
    expect(third.response.status).toBe(429);
    expect(Number(third.response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(third.body.error.data.code).toBe('RATE_LIMITED');
    // Listing is not a tool call.
    expect((await rpc('/mcp', key('l3'), { id: 5, method: 'tools/list' }, session)).response.status).toBe(
      200,
    );
  });
});

describe('local mode', () => {
  let local: Harness;
  beforeAll(async () => {
    local = await startZiggie({});
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('is the default on loopback: a request without credentials is the bootstrap admin', async () => {
    const me = await (await fetch(`${local.baseUrl}/api/auth/me`)).json();
    expect(me).toMatchObject({ method: 'local', role: 'admin', actor: { type: 'user' } });
    expect(local.ziggie.bootstrap?.key).toMatch(/^zgk_/);
    const withKey = await (
      await fetch(`${local.baseUrl}/api/auth/me`, {
        headers: { authorization: `Bearer ${local.ziggie.bootstrap?.key}` },
      })
    ).json();
    expect(withKey).toMatchObject({ method: 'api-key', actor: me.actor });
    // Bad credentials are refused, never taken for none.
    const bad = await fetch(`${local.baseUrl}/api/auth/me`, { headers: { authorization: 'Bearer zgk_bad' } });
    expect(bad.status).toBe(401);
  });

  it('refuses to listen on a non-loopback address unless auth.mode is required', async () => {
    const { loadConfig } = await import('../../src/config/index.ts');
    const { Ziggie } = await import('../../src/ziggie.ts');
    const { pino } = await import('pino');
    const config = await loadConfig({
      env: {},
      overrides: { host: '0.0.0.0', port: 0, dataDir: `${local.dir}/exposed` },
    });
    const ziggie = await Ziggie.start(config, { logger: pino({ level: 'silent' }) });
    try {
      await expect(ziggie.listen()).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('auth.mode must be "required"'),
      });
    } finally {
      await ziggie.stop();
    }
  });
});
