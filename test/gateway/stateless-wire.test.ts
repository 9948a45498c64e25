import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

const FIXTURE = join(process.cwd(), 'test/fixtures/modern-server.ts');
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
};
const YES = { action: 'accept', content: { ok: true } };

interface RpcReply {
  status: number;
  body: {
    result?: Record<string, unknown> & { requestState?: string; inputRequests?: Record<string, unknown> };
    error?: { code: number; message: string; data?: { reason?: string } };
  };
}

/**
 * The 2026-07-28 wire, raw: what a stateless client sends and gets, including every way the
 * specification says a request can be wrong, and the held-call `requestState` defences.
 */
describe('stateless (2026-07-28) requests on the wire', () => {
  let harness: Harness;
  let nextId = 1;

  async function post(
    method: string,
    params: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<RpcReply> {
    const response = await fetch(`${harness.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(typeof params.name === 'string' ? { 'mcp-name': params.name } : {}),
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params: { _meta: META, ...params } }),
    });
    return { status: response.status, body: await response.json() };
  }

  const confirm = (extra: Record<string, unknown> = {}) =>
    post('tools/call', { name: 'new__confirm', arguments: {}, ...extra });

  beforeAll(async () => {
    harness = await startZiggie({
      gateway: { heldCalls: { ttlMs: 1000, maxPerIdentity: 3 } },
      mcpServers: { new: { command: process.execPath, args: [FIXTURE] } },
    });
    const h = harness;
    await waitFor(
      () => h.ziggie.gateway.aggregateView().resolveTool('new__confirm') !== undefined,
      10_000,
      'the upstream tools listed',
    );
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('answers server/discover with the supported revision and capabilities', async () => {
    const { status, body } = await post('server/discover', {});
    expect(status).toBe(200);
    expect(body.result?.supportedVersions).toEqual(['2026-07-28']);
    expect(body.result?.capabilities).toMatchObject({ tools: {} });
    expect(body.result?.resultType).toBe('complete');
  });

  it('refuses an unsupported protocol version with -32022 naming the supported ones', async () => {
    const { status, body } = await post(
      'tools/list',
      { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
      { 'mcp-protocol-version': '2099-01-01' },
    );
    expect(status).toBe(400);
    expect(body.error?.code).toBe(-32022);
    expect(JSON.stringify(body.error?.data)).toContain('2026-07-28');
  });

  it('refuses a malformed envelope with -32602 naming the missing key', async () => {
    const { body } = await post('tools/list', {
      _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' },
    });
    expect(body.error?.code).toBe(-32602);
    expect(body.error?.message).toContain('clientCapabilities');
  });

  it('refuses an Mcp-Method header that disagrees with the body (-32020)', async () => {
    const { status, body } = await post('tools/list', {}, { 'mcp-method': 'prompts/list' });
    expect(status).toBe(400);
    expect(body.error?.code).toBe(-32020);
  });

  it('holds a call for input, then completes it with the answer', async () => {
    const first = await confirm();
    expect(first.body.result?.resultType).toBe('input_required');
    const keys = Object.keys(first.body.result?.inputRequests ?? {});
    expect(keys).toHaveLength(1);
    const answered = await confirm({
      requestState: first.body.result?.requestState,
      inputResponses: { [keys[0] as string]: YES },
    });
    expect(JSON.stringify(answered.body.result?.content)).toContain('confirmed: true');
    expect(harness.ziggie.gateway.heldCalls.size).toBe(0);
  });

  it('refuses a tampered requestState', async () => {
    const first = await confirm();
    const state = String(first.body.result?.requestState);
    const key = Object.keys(first.body.result?.inputRequests ?? {})[0] as string;
    const tampered = `${state.slice(0, -4)}${state.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const reply = await confirm({ requestState: tampered, inputResponses: { [key]: YES } });
    expect(reply.body.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
    // The genuine state still works: a forgery does not disturb the held call.
    const genuine = await confirm({ requestState: state, inputResponses: { [key]: YES } });
    expect(JSON.stringify(genuine.body.result?.content)).toContain('confirmed: true');
  });

  it('refuses a replayed requestState', async () => {
    const first = await confirm();
    const state = first.body.result?.requestState;
    const key = Object.keys(first.body.result?.inputRequests ?? {})[0] as string;
    await confirm({ requestState: state, inputResponses: { [key]: YES } });
    const replay = await confirm({ requestState: state, inputResponses: { [key]: YES } });
    expect(replay.body.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
  });

  it('refuses answers to a request that was never made', async () => {
    const first = await confirm();
    const reply = await confirm({
      requestState: first.body.result?.requestState,
      inputResponses: { 'made-up': YES },
    });
    expect(reply.body.error?.code).toBe(-32602);
    expect(reply.body.error?.message).toContain('made-up');
  });

  it('expires a held call after gateway.heldCalls.ttlMs and refuses its state', async () => {
    const first = await confirm();
    expect(harness.ziggie.gateway.heldCalls.size).toBeGreaterThan(0);
    await waitFor(() => harness.ziggie.gateway.heldCalls.size === 0, 5_000, 'the held call to expire');
    const key = Object.keys(first.body.result?.inputRequests ?? {})[0] as string;
    const late = await confirm({
      requestState: first.body.result?.requestState,
      inputResponses: { [key]: YES },
    });
    expect(late.body.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
  });

  it('bounds the calls one identity may hold (gateway.heldCalls.maxPerIdentity)', async () => {
    await waitFor(() => harness.ziggie.gateway.heldCalls.size === 0, 5_000, 'no held calls');
    for (let i = 0; i < 3; i++) expect((await confirm()).body.result?.resultType).toBe('input_required');
    const refused = await confirm();
    expect(refused.body.error?.code).toBe(-32600);
    expect(refused.body.error?.message).toMatch(/at most 3/);
    expect(JSON.stringify(refused.body.error)).toContain('HELD_CALLS_EXCEEDED');
  });
});
