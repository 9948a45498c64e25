import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventRoutes } from '../../src/api/event-routes.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

const BOOTSTRAP = 'events-api-bootstrap-token-0123456789';

// biome-ignore lint/suspicious/noExplicitAny: feed items are checked field by field
type Item = Record<string, any>;

/** An open SSE stream: the frames and items it got so far, read as they come. */
interface Sse {
  status: number;
  contentType: string | null;
  items: Item[];
  /** Every frame's text, heartbeats included. */
  frames: string[];
  /** Resolves once the server ended the stream. */
  ended: Promise<void>;
  /** Waits until `count` items came (or fails after 5 s). */
  next(count: number): Promise<Item[]>;
  close(): Promise<void>;
}

async function openSse(url: string, headers: Record<string, string> = {}): Promise<Sse> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const sse: Sse = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    items: [],
    frames: [],
    ended: Promise.resolve(),
    async next(count) {
      await waitFor(() => sse.items.length >= count, 5000, `${count} items (have ${sse.items.length})`);
      return sse.items.slice(0, count);
    },
    async close() {
      controller.abort();
      await sse.ended;
    },
  };
  if (!response.ok || !response.body) return sse;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  sse.ended = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          sse.frames.push(frame);
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (data) {
            const item = JSON.parse(data);
            // The SSE id is the item's own.
            expect(/^id: (.*)$/m.exec(frame)?.[1]).toBe(item.id);
            sse.items.push(item);
          }
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  })();
  return sse;
}

/** A WebSocket client of `/api/events/ws` collecting the items it gets. */
async function openWs(
  url: string,
  headers: Record<string, string>,
): Promise<{ socket: WebSocket; items: Item[]; closed: Promise<number> }> {
  const socket = new WebSocket(url, { headers });
  const items: Item[] = [];
  socket.on('message', (data) => items.push(JSON.parse(String(data))));
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, items, closed };
}

/** The HTTP status a refused upgrade answers with. */
function refusedUpgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => reject(new Error('the upgrade was accepted')));
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    socket.once('error', () => {});
  });
}

describe('live events: GET /api/events (SSE), /api/events/ws, GET /api/tasks/<id>/log', () => {
  let harness: Harness;
  const admin = { authorization: `Bearer ${BOOTSTRAP}` };
  const url = (path: string) => `${harness.baseUrl}${path}`;
  const wsUrl = (path: string) => url(path).replace(/^http/, 'ws');
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(url(path), {
      method,
      headers: { ...admin, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  };
  const submit = async () => {
    const { status, body } = await call('POST', '/api/tasks', {
      taskType: 'codegen',
      agentId: 'dev',
      workspace: 'studio',
    });
    expect(status).toBe(201);
    return body.id as string;
  };

  beforeAll(async () => {
    const previous = process.env.ZIGGIE_BOOTSTRAP_TOKEN;
    process.env.ZIGGIE_BOOTSTRAP_TOKEN = BOOTSTRAP;
    try {
      harness = await startZiggie({
        auth: { mode: 'required', rateLimits: { enabled: false } },
        workspaces: { studio: { path: '/studio' } },
      });
    } finally {
      if (previous === undefined) delete process.env.ZIGGIE_BOOTSTRAP_TOKEN;
      else process.env.ZIGGIE_BOOTSTRAP_TOKEN = previous;
    }
    const agents = [{ id: 'dev', name: 'Dev', tier: 'L2', workspace: 'studio', capacity: 100 }];
    expect((await call('POST', '/api/agents/import', { agents })).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await harness?.stop();
  });

  it('streams a task submitted → started → completed as `tasks` items with SSE ids', async () => {
    const sse = await openSse(url('/api/events?topics=tasks'), admin);
    expect(sse.status).toBe(200);
    expect(sse.contentType).toBe('text/event-stream; charset=utf-8');
    const id = await submit();
    expect((await call('POST', `/api/tasks/${id}/start`, {})).status).toBe(200);
    expect((await call('POST', `/api/tasks/${id}/complete`, { output: { ok: true } })).status).toBe(200);
    const items = await sse.next(4);
    expect(items.map((item) => `${item.from} → ${item.kind}`)).toEqual([
      'null → PENDING',
      'PENDING → ASSIGNED',
      'ASSIGNED → IN_PROGRESS',
      'IN_PROGRESS → COMPLETED',
    ]);
    expect(items[1]).toMatchObject({
      topic: 'tasks',
      kind: 'ASSIGNED',
      task: id,
      from: 'PENDING',
      assignee: 'dev',
      workspace: 'studio',
      parentId: null,
      taskType: 'codegen',
      attempts: 0,
    });
    expect(items[1]?.id).toMatch(/^[0-9a-f]+-\d+$/);
    expect(items[1]?.at).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(Object.keys(items[1] ?? {}).sort()).toEqual([
      'assignee',
      'at',
      'attempts',
      'from',
      'id',
      'kind',
      'parentId',
      'reason',
      'task',
      'taskType',
      'topic',
      'workspace',
    ]);
    // Ids increase, within one boot.
    const seqs = items.map((item) => Number(item.id.split('-')[1]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(items.map((item) => item.id.split('-')[0])).size).toBe(1);
    await sse.close();
  });

  it('filters by topics and by task; log and progress items carry what the executor reported', async () => {
    const [a, b] = [await submit(), await submit()];
    const onlyA = await openSse(url(`/api/events?topics=task-logs,task-progress&task=${a}`), admin);
    const tasksOfA = await openSse(url(`/api/events?topics=tasks&task=${a}`), admin);
    const leases = harness.ziggie.tasks.leases;
    const at = new Date();
    await leases.appendLog(b, [{ attempt: 1, stream: 'stdout', text: 'b says hi', at }]);
    await call('POST', `/api/tasks/${b}/cancel`, {});
    harness.ziggie.bus.publish('task.progress', { taskId: b, progress: 1, at });
    await leases.appendLog(a, [
      { attempt: 1, stream: 'stdout', text: 'a says hi', at },
      { attempt: 1, stream: 'stderr', text: 'x'.repeat(5000), at },
    ]);
    harness.ziggie.bus.publish('task.progress', {
      taskId: a,
      progress: 3,
      total: 10,
      message: 'copying',
      at,
    });
    await call('POST', `/api/tasks/${a}/cancel`, { reason: 'enough' });

    expect(await onlyA.next(3)).toEqual([
      expect.objectContaining({
        topic: 'task-logs',
        kind: 'log',
        task: a,
        stream: 'stdout',
        text: 'a says hi',
      }),
      expect.objectContaining({
        topic: 'task-logs',
        stream: 'stderr',
        text: 'x'.repeat(4096),
        truncated: true,
      }),
      expect.objectContaining({ topic: 'task-progress', kind: 'progress', task: a, progress: 3, total: 10 }),
    ]);
    expect(await tasksOfA.next(1)).toEqual([
      expect.objectContaining({ topic: 'tasks', kind: 'CANCELLED', task: a, reason: 'enough' }),
    ]);
    // Nothing else arrives: b's items and the other topics were filtered out.
    const marker = await submit();
    await call('POST', `/api/tasks/${marker}/cancel`, {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(onlyA.items).toHaveLength(3);
    expect(tasksOfA.items).toHaveLength(1);
    await Promise.all([onlyA.close(), tasksOfA.close()]);
  });

  it('resumes after Last-Event-ID (header or ?lastEventId=) with only the later items, and resets for an unknown id', async () => {
    const first = await openSse(url('/api/events?topics=tasks'), admin);
    const id = await submit();
    await call('POST', `/api/tasks/${id}/start`, {});
    const items = await first.next(3);
    await first.close();
    // Missed while disconnected:
    await call('POST', `/api/tasks/${id}/complete`, {});

    const resumed = await openSse(url('/api/events?topics=tasks'), {
      ...admin,
      'last-event-id': items[0]?.id,
    });
    expect((await resumed.next(3)).map((item) => item.kind)).toEqual([
      'ASSIGNED',
      'IN_PROGRESS',
      'COMPLETED',
    ]);
    const byQuery = await openSse(url(`/api/events?topics=tasks&lastEventId=${items[2]?.id}`), admin);
    expect((await byQuery.next(1)).map((item) => item.kind)).toEqual(['COMPLETED']);
    // Live after the replay.
    const next = await submit();
    expect((await resumed.next(4))[3]).toMatchObject({ task: next, kind: 'PENDING' });

    const foreign = await openSse(url('/api/events?topics=tasks'), { ...admin, 'last-event-id': 'cafe-12' });
    const [reset] = await foreign.next(1);
    expect(reset).toMatchObject({ topic: 'feed', kind: 'reset', reason: 'unknown-id' });
    // Its id is the newest item's: resuming after it replays nothing.
    expect(Number(reset?.id.split('-')[1])).toBeGreaterThanOrEqual(
      Number(resumed.items[4]?.id.split('-')[1]),
    );
    await Promise.all([resumed.close(), byQuery.close(), foreign.close()]);
  });

  it('refuses an unknown or missing topic with 400 naming the allowed ones, and a caller without a token with 401', async () => {
    const bad = await fetch(url('/api/events?topics=tasks,agents'), { headers: admin });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'topics: unknown topic "agents"; allowed: tasks, task-logs, task-progress',
        details: { allowed: ['tasks', 'task-logs', 'task-progress'] },
      },
    });
    const missing = await fetch(url('/api/events'), { headers: admin });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.message).toMatch(/^topics: required: one or more of tasks/);
    const anonymous = await fetch(url('/api/events?topics=tasks'));
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe('AUTH_REQUIRED');
    const wrongKey = await fetch(url('/api/events?topics=tasks'), {
      headers: { authorization: 'Bearer zgk_nope' },
    });
    expect(wrongKey.status).toBe(401);
  });

  it('sends the same items over the WebSocket, behind the same auth, Host/Origin and query checks', async () => {
    const ws = await openWs(wsUrl('/api/events/ws?topics=tasks'), admin);
    const sse = await openSse(url('/api/events?topics=tasks'), admin);
    const id = await submit();
    await call('POST', `/api/tasks/${id}/cancel`, {});
    await sse.next(3);
    await waitFor(() => ws.items.length >= 3, 5000, 'three WebSocket items');
    expect(ws.items).toEqual(sse.items);
    expect(ws.items.map((item) => item.kind)).toEqual(['PENDING', 'ASSIGNED', 'CANCELLED']);
    ws.socket.close();
    expect(await ws.closed).toBe(1005);
    await sse.close();

    const resumed = await openWs(
      wsUrl(`/api/events/ws?topics=tasks&task=${id}&lastEventId=${sse.items[0]?.id}`),
      admin,
    );
    await waitFor(() => resumed.items.length >= 2, 5000, 'replayed items');
    expect(resumed.items.map((item) => item.kind)).toEqual(['ASSIGNED', 'CANCELLED']);
    resumed.socket.close();

    expect(await refusedUpgrade(wsUrl('/api/events/ws?topics=tasks'), {})).toMatchObject({
      status: 401,
      body: expect.stringContaining('AUTH_REQUIRED'),
    });
    expect(await refusedUpgrade(wsUrl('/api/events/ws?topics=nope'), admin)).toMatchObject({
      status: 400,
      body: expect.stringContaining('unknown topic \\"nope\\"'),
    });
    expect(
      await refusedUpgrade(wsUrl('/api/events/ws?topics=tasks'), {
        ...admin,
        origin: 'https://evil.example',
      }),
    ).toMatchObject({ status: 403, body: expect.stringContaining('ORIGIN_NOT_ALLOWED') });
    // Not an upgrade: a plain 400 saying what the endpoint is.
    const plain = await fetch(url('/api/events/ws?topics=tasks'), { headers: admin });
    expect(plain.status).toBe(400);
    expect((await plain.json()).error.message).toMatch(/WebSocket endpoint/);
  });

  it('pages a task log with after and limit: {lines, next}', async () => {
    const id = await submit();
    const at = new Date('2031-01-01T00:00:00Z');
    await harness.ziggie.tasks.leases.appendLog(
      id,
      ['one', 'two', 'three'].map((text) => ({ attempt: 1, stream: 'stdout' as const, text, at })),
    );
    const first = await call('GET', `/api/tasks/${id}/log?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.lines).toEqual([
      { id: expect.any(Number), attempt: 1, stream: 'stdout', text: 'one', at: '2031-01-01T00:00:00.000Z' },
      expect.objectContaining({ text: 'two' }),
    ]);
    expect(first.body.next).toBe(first.body.lines[1].id);
    const rest = await call('GET', `/api/tasks/${id}/log?after=${first.body.next}`);
    expect(rest.body.lines.map((line: Item) => line.text)).toEqual(['three']);
    const none = await call('GET', `/api/tasks/${id}/log?after=${rest.body.next}`);
    expect(none.body).toEqual({ lines: [], next: rest.body.next });
    expect((await call('GET', '/api/tasks/tsk_missing/log')).body.error.code).toBe('TASK_NOT_FOUND');
    expect((await call('GET', `/api/tasks/${id}/log?limit=0`)).status).toBe(400);
  });
});

describe('live events: heartbeats and shutdown', () => {
  it('sends a heartbeat comment on idle SSE streams and pings WebSockets', async () => {
    const bus = new MemoryBus();
    const app = Fastify();
    await app.register(websocket);
    await app.register(eventRoutes, { bus, heartbeatMs: 50 });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const sse = await openSse(`${base}/api/events?topics=tasks`);
      await waitFor(() => sse.frames.filter((f) => f === ': ping').length >= 2, 5000, 'two heartbeats');
      const ws = await openWs(`${base.replace(/^http/, 'ws')}/api/events/ws?topics=tasks`, {});
      let pings = 0;
      ws.socket.on('ping', () => pings++);
      await waitFor(() => pings >= 2, 5000, 'two pings');
      ws.socket.close();
      await sse.close();
    } finally {
      await app.close();
    }
  });

  it('ends open streams when Ziggie stops, without waiting for the clients', async () => {
    const harness = await startZiggie({});
    const sse = await openSse(`${harness.baseUrl}/api/events?topics=tasks`);
    expect(sse.status).toBe(200);
    const ws = await openWs(`${harness.baseUrl.replace(/^http/, 'ws')}/api/events/ws?topics=tasks`, {});
    const started = Date.now();
    await harness.stop();
    await sse.ended;
    // 1001 (going away) from this plugin, or 1005 from @fastify/websocket's own close, whichever runs first.
    expect([1001, 1005]).toContain(await ws.closed);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
