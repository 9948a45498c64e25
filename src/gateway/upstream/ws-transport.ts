import {
  type JSONRPCMessage,
  parseJSONRPCMessage,
  SdkError,
  SdkErrorCode,
  type Transport,
} from '@modelcontextprotocol/client';
import WebSocket from 'ws';
import type { RemoteUpstreamSpec } from '../../core/upstream-spec.ts';

/** The WebSocket subprotocol MCP servers expect (the SDK v1 WebSocket transport used it too). */
export const MCP_SUBPROTOCOL = 'mcp';

/** How long `close()` waits for the closing handshake before dropping the socket. */
const CLOSE_GRACE_MS = 1000;

/**
 * MCP client transport over one WebSocket (the v2 SDK ships none): one JSON-RPC message per text
 * frame, subprotocol `mcp`, optional headers on the upgrade request.
 */
export class WebSocketClientTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  readonly #url: URL;
  readonly #headers: Record<string, string>;
  #socket: WebSocket | undefined;
  #closed = false;

  constructor(url: URL, options: { headers?: Record<string, string> } = {}) {
    this.#url = url;
    this.#headers = { ...options.headers };
  }

  start(): Promise<void> {
    if (this.#socket) return Promise.reject(new Error('WebSocketClientTransport already started'));
    const socket = new WebSocket(this.#url, MCP_SUBPROTOCOL, { headers: this.#headers });
    this.#socket = socket;
    return new Promise((resolve, reject) => {
      let opened = false;
      socket.once('open', () => {
        opened = true;
        resolve();
      });
      socket.on('error', (error) => {
        if (!opened) reject(error);
        this.onerror?.(error);
      });
      socket.once('unexpected-response', (_request, response) => {
        const error = new Error(
          `WebSocket upgrade to ${this.#url.href} refused: HTTP ${response.statusCode}`,
        );
        socket.terminate();
        reject(error);
        this.onerror?.(error);
      });
      socket.on('message', (data, isBinary) => this.#receive(data, isBinary));
      socket.once('close', () => this.#finish());
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new SdkError(SdkErrorCode.NotConnected, 'WebSocket is not open'));
    }
    return new Promise((resolve, reject) => {
      socket.send(JSON.stringify(message), (error) => {
        if (error) reject(new SdkError(SdkErrorCode.SendFailed, error.message, undefined, { cause: error }));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) {
      this.#finish();
      return;
    }
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.close(1000);
    const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(timer);
    this.#finish();
  }

  #receive(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) {
      this.onerror?.(new Error('Ignored a binary WebSocket frame: MCP messages are text frames'));
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(JSON.parse(rawToString(data)));
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.onmessage?.(message);
  }

  /** Reports the close exactly once, whether the peer, the network or `close()` ended it. */
  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** A WebSocket transport for a `ws://` / `wss://` upstream, with `spec.headers` on the upgrade. */
export function createWsTransport(spec: RemoteUpstreamSpec): WebSocketClientTransport {
  return new WebSocketClientTransport(new URL(spec.url), { headers: spec.headers });
}
