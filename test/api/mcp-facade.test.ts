import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EVERYTHING_ENTRY,
  everythingStdio,
  type Harness,
  startZiggie,
  waitFor,
} from '../helpers/ziggie-harness.ts';

/** The seeds' REST facade over the gateway, as a non-MCP caller uses it. */
describe('REST facade /api/mcp/*', () => {
  let harness: Harness;
  const api = (path: string, init?: RequestInit) => fetch(`${harness.baseUrl}${path}`, init);
  const post = (path: string, body: unknown) =>
    api(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    harness = await startZiggie({ mcpServers: { everything: everythingStdio() } });
    const h = harness;
    await waitFor(
      () => h.ziggie.gateway.aggregateView().resolveTool('everything__echo') !== undefined,
      10_000,
      'tools',
    );
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('GET /api/mcp/tools lists {name, server, description, inputSchema} and the server count', async () => {
    const body = await (await api('/api/mcp/tools')).json();
    expect(body.server_count).toBe(1);
    const echo = body.tools.find((t: { name: string }) => t.name === 'everything__echo');
    expect(echo).toMatchObject({ server: 'everything', description: expect.any(String) });
    expect(echo.inputSchema.type).toBe('object');
  });

  it('POST /api/mcp/execute calls a tool and answers {success, result}', async () => {
    const response = await post('/api/mcp/execute', {
      tool: 'everything__echo',
      arguments: { message: 'rest' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      success: true,
      result: { content: [{ type: 'text', text: 'Echo: rest' }] },
    });
  });

  it('refuses an unknown tool (404 TOOL_NOT_FOUND) and a malformed body (400 VALIDATION_FAILED)', async () => {
    const unknown = await post('/api/mcp/execute', { tool: 'nowhere__x' });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('TOOL_NOT_FOUND');
    const malformed = await post('/api/mcp/execute', { tool: 42 });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('tool'),
    });
    const badArgs = await post('/api/mcp/execute', {
      tool: 'everything__get-sum',
      arguments: { a: 'one', b: 2 },
    });
    expect(badArgs.status).toBe(400);
    expect((await badArgs.json()).error.code).toBe('TOOL_ARGUMENTS_INVALID');
  });

  it('tells the upstream a REST caller cannot answer sampling, instead of hanging', async () => {
    const response = await post('/api/mcp/execute', {
      tool: 'everything__trigger-sampling-request',
      arguments: { prompt: 'x', maxTokens: 5 },
    });
    const body = await response.json();
    expect(body.success).toBe(false);
    expect(JSON.stringify(body.result)).toContain('does not support sampling/createMessage');
  });

  it('GET /api/mcp/health answers per-server words and the overall state', async () => {
    expect(await (await api('/api/mcp/health')).json()).toMatchObject({
      servers: { everything: 'healthy' },
      overall: 'healthy',
    });
  });

  it('adds a server at run time, keeps it across a restart, and removes it', async () => {
    const added = await post('/api/mcp/servers', {
      name: 'second',
      command: process.execPath,
      args: [EVERYTHING_ENTRY, 'stdio'],
      env: { SECRET_TOKEN: 'hunter2' },
    });
    expect(added.status).toBe(201);
    const created = await added.json();
    expect(created).toMatchObject({ name: 'second', source: 'runtime', env: { SECRET_TOKEN: '<redacted>' } });
    const duplicate = await post('/api/mcp/servers', { name: 'second', command: 'x' });
    expect(duplicate.status).toBe(409);

    // The stored definition comes back after a restart of the same data directory.
    const dataDir = harness.dir;
    await harness.ziggie.stop();
    const config = { mcpServers: { everything: everythingStdio() }, storage: { dataDir } };
    const again = await startZiggie(config);
    try {
      expect(
        again.ziggie.gateway
          .servers()
          .map((s) => s.spec.name)
          .sort(),
      ).toEqual(['everything', 'second']);
      const removed = await fetch(`${again.baseUrl}/api/mcp/servers/second`, { method: 'DELETE' });
      expect(removed.status).toBe(204);
      const configured = await fetch(`${again.baseUrl}/api/mcp/servers/everything`, { method: 'DELETE' });
      expect(configured.status).toBe(409);
    } finally {
      await again.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    harness = await startZiggie({ mcpServers: { everything: everythingStdio() } });
  });

  it('refuses a server entry that is not valid, naming the key', async () => {
    const response = await post('/api/mcp/servers', { name: 'bad', url: 'not a url' });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('url'),
    });
  });
});
