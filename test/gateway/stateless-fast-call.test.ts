import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainToolCall } from '../../src/gateway/downstream/stateless-fast-call.ts';
import type { CatalogView } from '../../src/gateway/view.ts';
import { startEraZiggie } from '../helpers/era-fixtures.ts';
import { type Harness, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * The fast lane for plain 2026-07-28 `tools/call` requests (src/gateway/downstream/stateless-fast-call.ts):
 * it takes exactly the plain calls, and answers them as the SDK's per-request server does.
 */

const VERSION = '2026-07-28';
const META = {
  'io.modelcontextprotocol/protocolVersion': VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'fast-lane-test', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {}, sampling: {} },
};
/** A `_meta` key the SDK path accepts and ignores, and the fast lane declines: forces the SDK path. */
const TRACE = {
  'io.modelcontextprotocol/traceparent': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

function callBody(name: string, args: Record<string, unknown>, extraMeta: Record<string, unknown> = {}) {
  return {
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name, arguments: args, _meta: { ...META, ...extraMeta } },
  };
}

function callHeaders(name: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': VERSION,
    'mcp-method': 'tools/call',
    'mcp-name': name,
  };
}

describe('plainToolCall: which requests the fast lane takes', () => {
  const view = { resolveTool: (name: string) => (name === 'a__echo' ? { server: 'a' } : undefined) };
  const take = (body: unknown, headers: IncomingHttpHeaders = callHeaders('a__echo')) =>
    plainToolCall(headers, body, view as unknown as CatalogView);
  const body = () => callBody('a__echo', { message: 'hi' });

  it('takes a plain call', () => {
    expect(take(body())).toMatchObject({ id: 7, params: { name: 'a__echo', arguments: { message: 'hi' } } });
    const noArgs = body() as { params: Record<string, unknown> };
    delete noArgs.params.arguments;
    expect(take(noArgs)).toBeDefined();
  });

  const declined: Array<[string, () => unknown, IncomingHttpHeaders?]> = [
    ['a progress token', () => callBody('a__echo', {}, { progressToken: 1 })],
    ['a log level', () => callBody('a__echo', {}, { 'io.modelcontextprotocol/logLevel': 'info' })],
    ['trace context', () => callBody('a__echo', {}, TRACE)],
    ['a task request', () => ({ ...body(), params: { ...body().params, task: { ttl: 1000 } } })],
    [
      'a retried round',
      () => ({ ...body(), params: { ...body().params, requestState: 'x', inputResponses: {} } }),
    ],
    [
      'client extensions (tasks)',
      () =>
        callBody(
          'a__echo',
          {},
          { 'io.modelcontextprotocol/clientCapabilities': { extensions: { tasks: {} } } },
        ),
    ],
    [
      'a 2025 envelope',
      () => callBody('a__echo', {}, { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' }),
    ],
    ['an invalid envelope', () => callBody('a__echo', {}, { 'io.modelcontextprotocol/clientInfo': 'nope' })],
    ['no envelope', () => ({ ...body(), params: { name: 'a__echo', arguments: {} } })],
    ['an unknown tool', () => callBody('a__nope', {}), callHeaders('a__nope')],
    ['non-object arguments', () => callBody('a__echo', 'x' as never)],
    ['a notification', () => ({ ...body(), id: undefined })],
    ['a null id', () => ({ ...body(), id: null })],
    ['another method', () => ({ ...body(), method: 'tools/list' })],
    ['no jsonrpc version', () => ({ ...body(), jsonrpc: undefined })],
    ['a batch', () => [body()]],
    [
      'a version header that disagrees',
      body,
      { ...callHeaders('a__echo'), 'mcp-protocol-version': '2025-11-25' },
    ],
    ['no version header', body, { ...callHeaders('a__echo'), 'mcp-protocol-version': undefined }],
    ['a method header that disagrees', body, { ...callHeaders('a__echo'), 'mcp-method': 'tools/list' }],
    ['no name header', body, { ...callHeaders('a__echo'), 'mcp-name': undefined }],
    ['a name header that disagrees', body, callHeaders('a__other')],
    ['a Base64 name header', body, callHeaders('=?base64?YV9fZWNobw==?=')],
    ['a non-JSON content type', body, { ...callHeaders('a__echo'), 'content-type': 'text/plain' }],
  ];
  it.each(declined)('declines %s', (_what, make, headers) => {
    expect(take(make(), headers)).toBeUndefined();
  });
});

describe('the fast lane answers as the SDK path does', () => {
  let harness: Harness;
  const cancelLog = join(tmpdir(), `ziggie-fast-cancel-${process.pid}-${Date.now()}.log`);

  beforeAll(async () => {
    harness = await startEraZiggie({ CANCEL_LOG: cancelLog });
  });

  afterAll(async () => {
    await harness?.stop();
    rmSync(cancelLog, { force: true });
  });

  const post = (body: unknown, name: string, signal?: AbortSignal) =>
    fetch(`${harness.baseUrl}/mcp`, {
      method: 'POST',
      headers: callHeaders(name),
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });

  /** The answer of one request: its status, content type and JSON body (per-call values made comparable). */
  async function answer(body: unknown, name: string) {
    const response = await post(body, name);
    const json = await response.json();
    if (typeof json.result?.requestState === 'string') json.result.requestState = '<sealed>';
    // A 2025 upstream numbers its own requests' progress tokens: they differ from call to call.
    for (const input of Object.values(json.result?.inputRequests ?? {}) as Array<{
      params?: { _meta?: { progressToken?: unknown } };
    }>) {
      if (input.params?._meta?.progressToken !== undefined) input.params._meta.progressToken = '<upstream>';
    }
    return { status: response.status, type: response.headers.get('content-type'), json };
  }

  // First: the input_required cases below leave calls held on the 2025 upstream, and a 2025 upstream's
  // requests cannot be told apart (they would be routed to the most recent held call that can answer).
  it('answers -32021 (HTTP 400) when a 2025 upstream asked for a capability the client did not declare', async () => {
    const meta = { 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
    for (const extra of [meta, { ...meta, ...TRACE }]) {
      const response = await post(
        callBody('old__summarize', { text: 'a long text' }, extra),
        'old__summarize',
      );
      expect(response.status).toBe(400);
      expect((await response.json()).error).toMatchObject({
        code: -32021,
        data: { requiredCapabilities: { sampling: {} } },
      });
    }
  });

  describe.each(['old', 'new'])('%s upstream', (upstream) => {
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ['a result', 'echo', { message: 'hi' }],
      ['a call that logs (no level asked: no log messages)', 'chatty', {}],
      ['arguments that fail the schema', 'echo', { message: 5 }],
      ['an elicitation (input_required)', 'confirm', {}],
      ['a sampling request (input_required)', 'summarize', { text: 'a long text' }],
    ];
    it.each(cases)('%s', async (_what, tool, args) => {
      const name = `${upstream}__${tool}`;
      const fast = await answer(callBody(name, args), name);
      const sdk = await answer(callBody(name, args, TRACE), name);
      expect(fast).toEqual(sdk);
      expect(fast.type).toBe('application/json');
    });
  });

  it('finishes a call whose first round it answered with input_required', async () => {
    const first = await (await post(callBody('old__confirm', {}), 'old__confirm')).json();
    expect(first.result.resultType).toBe('input_required');
    const [key] = Object.keys(first.result.inputRequests);
    const retry = callBody('old__confirm', {});
    Object.assign(retry.params, {
      requestState: first.result.requestState,
      inputResponses: { [key as string]: { action: 'accept', content: { ok: true } } },
    });
    const second = await (await post(retry, 'old__confirm')).json();
    expect(second.result).toMatchObject({ resultType: 'complete' });
    expect(JSON.stringify(second.result.content)).toContain('confirmed: true');
  });

  it.each(['old', 'new'])(
    'carries a client hanging up to the %s upstream as a cancellation',
    async (upstream) => {
      const before = existsSync(cancelLog) ? readFileSync(cancelLog, 'utf8').split('\n').length : 0;
      const name = `${upstream}__count`;
      const hangUp = new AbortController();
      const call = post(callBody(name, { n: 100, ms: 30 }), name, hangUp.signal);
      setTimeout(() => hangUp.abort(), 200);
      await expect(call).rejects.toThrow();
      await waitFor(
        () => existsSync(cancelLog) && readFileSync(cancelLog, 'utf8').split('\n').length > before,
        5_000,
        'the upstream seeing the cancellation',
      );
    },
  );
});
