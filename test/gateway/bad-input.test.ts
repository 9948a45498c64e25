import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type TestClient } from '../helpers/mcp-client.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/** A POST with exactly these headers (Host included), answered as status + body text. */
function rawPost(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Every bad-input path the gateway names gets the right JSON-RPC error, and other sessions keep working. */
describe('bad input on the MCP endpoint', () => {
  let harness: Harness;
  let c: TestClient;

  beforeAll(async () => {
    harness = await startZiggie({
      server: { maxBodyBytes: 64 * 1024 },
      mcpServers: { everything: everythingStdio() },
    });
    c = await connectClient(`${harness.baseUrl}/mcp`);
    await waitFor(async () => (await c.client.listTools()).tools.length > 0, 10_000, 'tools listed');
  });

  afterAll(async () => {
    await c?.close();
    await harness?.stop();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${harness.baseUrl}/mcp`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });

  it('answers malformed JSON with a parse error', async () => {
    const response = await post('{"jsonrpc": "2.0", "method": ');
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe(-32700);
  });

  it('refuses a request without a session', async () => {
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error.code).toBe(-32000);
    expect(body.error.message).toMatch(/Mcp-Session-Id/);
  });

  it('refuses an unknown session id with 404', async () => {
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), {
      'mcp-session-id': 'not-a-session',
    });
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe(-32001);
  });

  it('refuses a body over the size limit with 413', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { pad: 'x'.repeat(100_000) },
    });
    const response = await post(big);
    expect(response.status).toBe(413);
    expect((await response.json()).error.message).toMatch(/limit/);
  });

  it('answers an unknown method with method-not-found', async () => {
    await expect(
      c.client.request({ method: 'tools/frobnicate', params: {} } as never, {} as never),
    ).rejects.toMatchObject({
      code: -32601,
    });
  });

  it('answers an unknown tool with invalid params naming the tool', async () => {
    await expect(c.client.callTool({ name: 'everything__nope', arguments: {} })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('everything__nope'),
    });
  });

  it('checks arguments against the tool schema', async () => {
    await expect(
      c.client.callTool({ name: 'everything__get-sum', arguments: { a: 'one', b: 2 } }),
    ).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('everything__get-sum') });
  });

  it('answers an unknown resource with an error naming it', async () => {
    await expect(c.client.readResource({ uri: 'ziggie://nowhere/x://y' })).rejects.toMatchObject({
      message: expect.stringContaining('ziggie://nowhere/x://y'),
    });
  });

  it('refuses a foreign Host and a foreign Origin (DNS-rebinding protection)', async () => {
    const port = new URL(harness.baseUrl).port;
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    // fetch() does not let a caller set Host, so this one goes through node:http.
    const badHost = await rawPost(`${harness.baseUrl}/mcp`, init, {
      ...JSON_HEADERS,
      host: `evil.example:${port}`,
    });
    expect(badHost.status).toBe(403);
    expect(JSON.parse(badHost.body).error.message).toMatch(/evil\.example/);
    const badOrigin = await post(init, { origin: 'http://evil.example' });
    expect(badOrigin.status).toBe(403);
    const rest = await fetch(`${harness.baseUrl}/api/mcp/health`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(rest.status).toBe(403);
    expect((await rest.json()).error.code).toBe('ORIGIN_NOT_ALLOWED');
  });

  it('keeps serving the existing session after all of the above', async () => {
    const result = await c.client.callTool({ name: 'everything__echo', arguments: { message: 'ok' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: ok' }]);
  });
});
