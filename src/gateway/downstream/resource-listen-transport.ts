import type {
  JSONRPCMessage,
  MessageExtraInfo,
  ProtocolError,
  Transport,
  TransportSendOptions,
} from '@modelcontextprotocol/server';
import { resourceListen } from './stateless-endpoints.ts';

/** Subscribes upstream to the URIs a listen filter names; resolves with what releases them. */
export type HoldResources = (uris: readonly string[]) => Promise<() => Promise<void>>;

/**
 * The stdio transport of `ziggie mcp`, looked through. The SDK's stdio entry serves a 2026-07-28
 * client's `subscriptions/listen` itself and tells nobody which resources it names; this transport
 * sees the request first and subscribes to them upstream before the entry acknowledges it (a URI no
 * upstream offers is answered here, with the error), and releases them when the listen is cancelled
 * or the connection ends. Inbound messages are handed on in order; everything else passes as it is.
 */
export class ResourceListenTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  readonly #inner: Transport;
  readonly #hold: HoldResources;
  /** Releases of the open listens that named resources, by request id. */
  readonly #held = new Map<string | number, () => Promise<void>>();
  #inbound = Promise.resolve();

  constructor(inner: Transport, hold: HoldResources) {
    this.#inner = inner;
    this.#hold = hold;
    inner.onmessage = (message, extra) => {
      this.#inbound = this.#inbound
        .then(() => this.#receive(message, extra))
        .catch((error: unknown) => {
          this.onerror?.(error instanceof Error ? error : new Error(String(error)));
        });
    };
    inner.onclose = () => {
      void this.#releaseAll();
      this.onclose?.();
    };
    inner.onerror = (error) => this.onerror?.(error);
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.#inner.send(message, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  setProtocolVersion(version: string): void {
    this.#inner.setProtocolVersion?.(version);
  }

  async #receive(message: JSONRPCMessage, extra?: MessageExtraInfo): Promise<void> {
    const listen = resourceListen(message);
    if (listen) {
      try {
        this.#held.set(listen.id, await this.#hold(listen.uris));
      } catch (error) {
        const { code, message: text, data } = error as ProtocolError;
        await this.#inner.send({
          jsonrpc: '2.0',
          id: listen.id,
          error: { code, message: text, ...(data === undefined ? {} : { data }) },
        });
        return;
      }
    } else {
      const cancelled = cancelledRequestId(message);
      const release = cancelled === undefined ? undefined : this.#held.get(cancelled);
      if (release && cancelled !== undefined) {
        this.#held.delete(cancelled);
        await release();
      }
    }
    this.onmessage?.(message, extra);
  }

  async #releaseAll(): Promise<void> {
    const releases = [...this.#held.values()];
    this.#held.clear();
    await Promise.allSettled(releases.map((release) => release()));
  }
}

function cancelledRequestId(message: JSONRPCMessage): string | number | undefined {
  if (!('method' in message) || message.method !== 'notifications/cancelled' || 'id' in message)
    return undefined;
  const id = (message.params as { requestId?: unknown } | undefined)?.requestId;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}
