import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Bus } from '../bus/bus.ts';
import { ZiggieError } from '../core/errors.ts';
import { EventFeed, FEED_TOPICS, type FeedFilter, type FeedTopic } from './event-feed.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';

export interface EventRoutesOptions {
  bus: Bus;
  /** Between SSE heartbeat comments and WebSocket pings. Default 15 s. */
  heartbeatMs?: number;
  /** Items kept for resuming clients. Default `FEED_CAPACITY`. */
  capacity?: number;
  /**
   * Bytes a client may fall behind (unsent output) before it is dropped; it reconnects and
   * resumes from its last id. Default 1 MiB.
   */
  maxBufferedBytes?: number;
}

const EventsQuery = z.strictObject({
  topics: z
    .string({ error: `required: one or more of ${FEED_TOPICS.join(', ')}, comma-separated` })
    .min(1)
    .describe(`Comma-separated topics: ${FEED_TOPICS.join(', ')}`),
  task: z.string().min(1).optional().describe('Only the items of this task'),
  lastEventId: z
    .string()
    .optional()
    .describe('Resume after this item id (the `Last-Event-ID` header wins when both are given)'),
});

/** Who a stream is for: parsed and checked before anything is streamed (400 otherwise). */
function feedRequest(request: FastifyRequest): { filter: FeedFilter; lastEventId: string | undefined } {
  const query = EventsQuery.parse(request.query);
  const topics = new Set<FeedTopic>();
  for (const name of query.topics.split(',').map((t) => t.trim())) {
    if (!(FEED_TOPICS as readonly string[]).includes(name)) {
      throw new ZiggieError(
        'VALIDATION_FAILED',
        `topics: unknown topic "${name}"; allowed: ${FEED_TOPICS.join(', ')}`,
        { allowed: [...FEED_TOPICS] },
      );
    }
    topics.add(name as FeedTopic);
  }
  const header = request.headers['last-event-id'];
  const lastEventId = (Array.isArray(header) ? header[0] : header) ?? query.lastEventId;
  return { filter: { topics, ...(query.task ? { task: query.task } : {}) }, lastEventId };
}

const tags: RouteDoc['tags'] = ['events'];
const ITEMS =
  'Items are `{id, topic, kind, at, …}`: `tasks` (kind = the new status; `task, from, assignee, workspace, ' +
  'parentId, taskType, attempts, reason`), `task-logs` (kind `log`; `task, attempt, stream, text` cut at 4 KiB, ' +
  '`truncated`), `task-progress` (kind `progress`; `task, progress, total?, message?`), and `{topic: "feed", ' +
  'kind: "reset"}` when the asked id cannot be resumed from (read the state again). See docs/api.md#events.';
const DOCS = {
  sse: {
    summary: 'Live task events as Server-Sent Events',
    description: `One \`id:\` + \`data: <JSON item>\` event per change, a \`: ping\` comment every 15 s. Resumable with \`Last-Event-ID\` (or \`?lastEventId=\`). ${ITEMS}`,
    tags,
    querystring: jsonSchemaOf(EventsQuery),
    headers: {
      type: 'object',
      properties: { 'last-event-id': { type: 'string', description: 'Resume after this item id' } },
    },
    response: {
      200: {
        description: 'An endless `text/event-stream`',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      },
    },
  },
  ws: {
    summary: 'Live task events over a WebSocket',
    description: `The same items as \`GET /api/events\`, one JSON text message each; the same query. A plain GET (no upgrade) answers 400. ${ITEMS}`,
    tags,
    querystring: jsonSchemaOf(EventsQuery),
    response: { 101: { description: 'Switching Protocols: a WebSocket of JSON feed items' } },
  },
} satisfies Record<string, RouteDoc>;

/**
 * `GET /api/events` (SSE) and `GET /api/events/ws` (WebSocket): the live feed of task events,
 * filtered by topics and task, resumable from an item id. Needs `@fastify/websocket` registered
 * on the app before it. The app's hooks (Host/Origin, auth) run for both, the upgrade included.
 */
export async function eventRoutes(app: FastifyInstance, options: EventRoutesOptions): Promise<void> {
  const feed = new EventFeed(options.bus, options.capacity ? { capacity: options.capacity } : {});
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const streams = new Set<ServerResponse>();
  const sockets = new Set<WebSocket>();

  app.get('/api/events', { config: { access: 'tasks.read' }, schema: DOCS.sse }, (request, reply) => {
    const { filter, lastEventId } = feedRequest(request);
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Proxies (nginx) must pass events on as they come.
      'x-accel-buffering': 'no',
    });
    // The subscription starts in this same tick as the response: a client that has the headers
    // misses nothing that happens after (`ziggie tasks watch` relies on this).
    raw.write('retry: 2000\n\n');
    const stop = feed.follow(filter, lastEventId, (item) => {
      raw.write(`id: ${item.id}\ndata: ${JSON.stringify(item)}\n\n`);
      // Too far behind: drop it; it reconnects with its last id and gets the rest (or a reset).
      if (raw.writableLength > maxBuffered) raw.destroy();
    });
    const heartbeat = setInterval(() => raw.write(': ping\n\n'), heartbeatMs);
    streams.add(raw);
    raw.on('close', () => {
      stop();
      clearInterval(heartbeat);
      streams.delete(raw);
    });
  });

  app.route({
    method: 'GET',
    url: '/api/events/ws',
    config: { access: 'tasks.read' },
    schema: DOCS.ws,
    // Checked before the upgrade, so that a bad query is a plain 400.
    preHandler: async (request) => {
      feedRequest(request);
    },
    handler: async () => {
      throw new ZiggieError(
        'VALIDATION_FAILED',
        'GET /api/events/ws is a WebSocket endpoint: connect with Upgrade: websocket (or use GET /api/events for SSE)',
      );
    },
    wsHandler: (socket, request) => {
      const { filter, lastEventId } = feedRequest(request);
      const stop = feed.follow(filter, lastEventId, (item) => {
        socket.send(JSON.stringify(item));
        if (socket.bufferedAmount > maxBuffered) socket.terminate();
      });
      let alive = true;
      socket.on('pong', () => {
        alive = true;
      });
      const heartbeat = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, heartbeatMs);
      sockets.add(socket);
      socket.on('close', () => {
        stop();
        clearInterval(heartbeat);
        sockets.delete(socket);
      });
    },
  });

  // Open streams end when the app closes, so that closing does not wait for clients to leave.
  app.addHook('preClose', (done) => {
    for (const raw of streams) raw.end();
    for (const socket of sockets) {
      socket.close(1001, 'Ziggie is shutting down');
      // A client that does not answer the close handshake is cut off soon after.
      setTimeout(() => socket.terminate(), 1000).unref();
    }
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    feed.close();
    done();
  });
}
