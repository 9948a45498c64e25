/** One Server-Sent Event: its `id:` (when it had one) and its `data:` lines joined. */
export interface ServerSentEvent {
  id?: string;
  data: string;
}

/** An open `text/event-stream` being read: its events in order, and a way to stop reading. */
export interface EventStreamReader {
  events(): AsyncGenerator<ServerSentEvent>;
  /** Stops reading and closes the connection (safe to call more than once). */
  close(): Promise<void>;
}

/**
 * Reads a `text/event-stream` body (the WHATWG format: `field: value` lines, events separated by a
 * blank line, `:` comments and `retry:` skipped). Events without data are not dispatched.
 */
export function readEventStream(body: ReadableStream<Uint8Array>): EventStreamReader {
  const reader = body
    .pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
    .getReader();
  let closed = false;
  return {
    async *events() {
      let buffer = '';
      let id: string | undefined;
      let data: string[] = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += value;
        // A line ends with CRLF, LF or CR; a CR at the very end may be the first half of a CRLF.
        const lines = buffer.split(/\r\n|\n|\r(?!$)/);
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') {
            if (data.length > 0) yield { ...(id === undefined ? {} : { id }), data: data.join('\n') };
            data = [];
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') data.push(text);
          else if (field === 'id' && !text.includes('\0')) id = text;
        }
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await reader.cancel().catch(() => {});
    },
  };
}
