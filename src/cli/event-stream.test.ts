import { describe, expect, it } from 'vitest';
import { readEventStream, type ServerSentEvent } from './event-stream.ts';

/** A body that arrives in the given chunks. */
function body(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function read(chunks: string[]): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of readEventStream(body(chunks)).events()) events.push(event);
  return events;
}

describe('readEventStream', () => {
  it('reads events split anywhere across chunks, with LF, CRLF or CR line ends', async () => {
    expect(
      await read([
        'retry: 2000\n\n: ping\n\nid: b-1\nda',
        'ta: {"a":1}\n',
        '\nid: b-2\r',
        '\ndata: x\r\rdata:y\ndata: z\n\n',
      ]),
    ).toEqual([
      { id: 'b-1', data: '{"a":1}' },
      { id: 'b-2', data: 'x' },
      // The last id stays until another comes; data lines join with a newline.
      { id: 'b-2', data: 'y\nz' },
    ]);
  });

  it('skips comments and events without data, and drops an unfinished event at the end', async () => {
    expect(await read([': hello\n\nid: 1\n\nevent: x\ndata: kept\n\ndata: cut off'])).toEqual([
      { id: '1', data: 'kept' },
    ]);
  });

  it('stops reading when closed', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('data: tick\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const reader = readEventStream(stream);
    const events = reader.events();
    expect((await events.next()).value).toEqual({ data: 'tick' });
    await reader.close();
    expect(cancelled).toBe(true);
  });
});
