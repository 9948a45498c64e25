import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ZiggieError } from '../../core/errors.ts';
import { httpExecutor } from './http.ts';
import { executionContext, runningTask } from './test-context.ts';
import { ExecutionError } from './types.ts';

/** A context as the runner builds it, with the log kept for assertions. */
function makeContext(binding: Record<string, unknown>, input: unknown = null) {
  return executionContext(httpExecutor, binding, {
    task: runningTask({
      id: 'tsk_http_1',
      taskType: 'summarize',
      priority: 'HIGH',
      workspace: 'docs',
      assignee: 'writer',
      input,
      attempts: 2,
    }),
    agent: { id: 'writer', name: 'Writer', tier: 'L3' },
  });
}

interface Received {
  headers: IncomingMessage['headers'];
  body: unknown;
  at: number;
}

/** A real agent endpoint: each request is answered by the next handler queued (the last one repeats). */
let server: Server;
let url: string;
let received: Received[];
let handlers: Array<(res: ServerResponse) => void>;

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({
      headers: req.headers,
      body: JSON.parse(Buffer.concat(chunks).toString()),
      at: Date.now(),
    });
    const handler = handlers.length > 1 ? handlers.shift() : handlers[0];
    handler?.(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received = [];
  handlers = [];
  // Requests a test left hanging must not keep the next one waiting.
  server.closeAllConnections();
});

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  (res: ServerResponse) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
const text = (status: number, body: string) => (res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
const never = () => {};

const run = (binding: Record<string, unknown> = {}, input: unknown = { doc: 'readme' }) => {
  const made = makeContext({ type: 'http', url, retryDelayMs: 10, ...binding }, input);
  return { ...made, result: httpExecutor.run(made.context) };
};

async function failure(promise: Promise<unknown>): Promise<ExecutionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExecutionError);
  return error as ExecutionError;
}

const until = async (check: () => boolean) => {
  for (let waited = 0; !check() && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
};

describe('http executor', () => {
  it('POSTs the task and the agent as JSON, and a JSON answer is the output', async () => {
    handlers = [json(200, { summary: 'short', words: [1, 2] })];
    expect(await run().result).toEqual({ output: { summary: 'short', words: [1, 2] } });
    expect(received).toHaveLength(1);
    expect(received[0]?.headers['content-type']).toBe('application/json');
    expect(received[0]?.body).toEqual({
      task: {
        id: 'tsk_http_1',
        taskType: 'summarize',
        input: { doc: 'readme' },
        workspace: 'docs',
        priority: 'HIGH',
        attempts: 2,
      },
      agent: { id: 'writer', name: 'Writer', tier: 'L3' },
    });
  });

  it('takes {output, usage} apart, and ignores a usage that is not one', async () => {
    handlers = [json(200, { output: ['a'], usage: { inputTokens: 10, outputTokens: 4, cost: 0.02 } })];
    expect(await run().result).toEqual({
      output: ['a'],
      usage: { inputTokens: 10, outputTokens: 4, cost: 0.02 },
    });
    handlers = [json(200, { output: 'x', usage: { inputTokens: -1 } })];
    const { result, logs } = run();
    expect(await result).toEqual({ output: 'x' });
    expect(logs.some((l) => l.text.startsWith('ignored the usage'))).toBe(true);
  });

  it('answers a body that is not JSON as text', async () => {
    handlers = [text(201, 'all done\n')];
    expect(await run().result).toEqual({ output: 'all done\n' });
  });

  it('retries a 500 with backoff, then takes the 200', async () => {
    handlers = [text(500, 'busy'), text(503, 'still busy'), json(200, { ok: true })];
    const { result, logs } = run({ retryDelayMs: 100 });
    expect(await result).toEqual({ output: { ok: true } });
    expect(received).toHaveLength(3);
    const [first, second, third] = received.map((r) => r.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(90);
    expect(third - second).toBeGreaterThanOrEqual(190);
    expect(logs.map((l) => l.text)).toContain(`POST ${url} answered 500: busy; retrying in 100 ms`);
  });

  it('waits as long as a 429 says in Retry-After', async () => {
    handlers = [json(429, { error: 'slow down' }, { 'retry-after': '1' }), json(200, 'fine')];
    expect(await run().result).toEqual({ output: 'fine' });
    const [first, second] = received.map((r) => r.at) as [number, number];
    expect(second - first).toBeGreaterThanOrEqual(950);
  });

  it('gives up after the retries, naming the last answer', async () => {
    handlers = [text(502, 'bad gateway')];
    const error = await failure(run({ retries: 1 }).result);
    expect(error).toMatchObject({ code: 'EXECUTOR_HTTP', retryable: true });
    expect(error.message).toBe(`POST ${url} answered 502: bad gateway (after 2 tries)`);
    expect(received).toHaveLength(2);
  });

  it('does not retry a 404, and says what the server answered', async () => {
    handlers = [text(404, `no such route ${'.'.repeat(1000)}`)];
    const error = await failure(run().result);
    expect(error).toMatchObject({ code: 'EXECUTOR_HTTP', retryable: false });
    expect(error.message).toBe(`POST ${url} answered 404: no such route ${'.'.repeat(500 - 14)}`);
    expect(received).toHaveLength(1);
  });

  it('times out each try, and ends with EXECUTOR_TIMEOUT', async () => {
    handlers = [never];
    const error = await failure(run({ timeoutMs: 200, retries: 1 }).result);
    expect(error.code).toBe('EXECUTOR_TIMEOUT');
    expect(error.message).toContain('did not answer within 200 ms');
    expect(received).toHaveLength(2);
  });

  it('retries a network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { result, logs } = run({ url: `http://127.0.0.1:${port}/`, retries: 1 });
    const error = await failure(result);
    expect(error).toMatchObject({ code: 'EXECUTOR_HTTP', retryable: true });
    expect(error.message).toMatch(/ECONNREFUSED.*\(after 2 tries\)$/);
    expect(logs.filter((l) => l.text.includes('(try '))).toHaveLength(2);
  });

  it('stops at once when the signal aborts, during a request or a backoff', async () => {
    handlers = [never];
    const during = run();
    await until(() => received.length === 1);
    const reason = new ExecutionError('TASK_CANCELLED', 'cancelled by op', { retryable: false });
    during.controller.abort(reason);
    expect(await failure(during.result)).toBe(reason);

    handlers = [text(500, 'down')];
    const backoff = run({ retryDelayMs: 60_000 });
    await until(() => backoff.logs.some((l) => l.text.includes('retrying in 60000 ms')));
    const started = Date.now();
    backoff.controller.abort();
    expect((await failure(backoff.result)).code).toBe('EXECUTOR_CANCELLED');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(received).toHaveLength(2);
  });

  it('sends the headers but logs only their names', async () => {
    handlers = [json(200, null)];
    const secret = 'Bearer sk-very-secret-token';
    const { result, logs } = run({ headers: { Authorization: secret, 'X-Team': 'blue-team' } });
    await result;
    expect(received[0]?.headers).toMatchObject({ authorization: secret, 'x-team': 'blue-team' });
    expect(logs.map((l) => l.text)).toContain(`POST ${url} (try 1 of 3) with headers Authorization, X-Team`);
    expect(JSON.stringify(logs)).not.toMatch(/sk-very-secret-token|blue-team/);
  });

  it.each([
    [{ url: 'ftp://example.com/agent' }, /executor\.url: expected an http:\/\/ or https:\/\/ URL/],
    [{ url: 'not a url' }, /executor\.url: expected an http/],
    [{ url: 'https://user:pw@example.com/' }, /executor\.url: must not hold credentials/],
    [{ retries: 11 }, /executor\.retries: must be at most 10/],
    [{ retries: -1 }, /executor\.retries: must be at least 0/],
    [{ timeoutMs: 0 }, /executor\.timeoutMs: must be at least 1/],
    [{ headers: { 'bad name': 'x' } }, /executor\.headers\["bad name"\]: not a header name/],
    [{ method: 'GET' }, /executor\.method: unknown key/],
  ])('refuses the binding %j, naming the field', (change, message) => {
    const error = (() => {
      try {
        httpExecutor.parse({ type: 'http', url: 'https://agents.example.com/run', ...change });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ZiggieError);
    expect(error).toMatchObject({
      code: 'EXECUTOR_BINDING_INVALID',
      message: expect.stringMatching(message),
    });
  });

  it('never echoes a header value in a refusal', () => {
    expect(() =>
      httpExecutor.parse({ type: 'http', url, headers: { Authorization: 'Bearer s3cr3t\n' } }),
    ).toThrow(/executor\.headers\.Authorization: must not contain line breaks \(got a string\)$/);
  });

  it('fills in the defaults', () => {
    expect(httpExecutor.parse({ type: 'http', url })).toEqual({
      type: 'http',
      url,
      timeoutMs: 60_000,
      retries: 2,
      retryDelayMs: 500,
    });
  });
});
