import {
  type JSONRPCMessage,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  type Transport,
} from '@modelcontextprotocol/client';

/** Ids of raw requests: strings, so they never meet the SDK's numeric ones. */
const ID_PREFIX = 'ziggie-raw-';

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(error: unknown): void;
}

/**
 * Requests sent on an upstream's transport beside the SDK client, answered with the raw JSON-RPC
 * result. For what the SDK client's result codec refuses: a `tools/call` answered with
 * `resultType: "task"` and the Tasks extension's `tasks/*` methods (2026-07-28). The caller frames
 * the request (its `_meta` envelope); the transport adds the HTTP headers derived from the body.
 * Installed over the transport's handlers once the SDK client is connected.
 */
export class RawChannel {
  readonly #transport: Transport;
  readonly #pending = new Map<string, Pending>();
  #next = 0;
  #closed = false;

  constructor(transport: Transport) {
    this.#transport = transport;
    const deliver = transport.onmessage;
    transport.onmessage = ((message: JSONRPCMessage, extra?: unknown) => {
      if (this.#settle(message)) return;
      deliver?.(message, extra as never);
    }) as Transport['onmessage'];
    const closed = transport.onclose;
    transport.onclose = () => {
      this.#failAll();
      closed?.();
    };
  }

  /**
   * Sends `method` with `params` as they are; resolves with the result object, rejects with the
   * upstream's JSON-RPC error as a `ProtocolError`. An abort sends `notifications/cancelled`.
   */
  request(
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    cancelMeta: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(closedError());
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = `${ID_PREFIX}${++this.#next}`;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const onAbort = () => {
        if (!this.#pending.delete(id)) return;
        reject(signal.reason);
        const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
        this.#transport
          .send({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason, _meta: cancelMeta },
          } as JSONRPCMessage)
          .catch(() => {});
      };
      const done = () => signal.removeEventListener('abort', onAbort);
      this.#pending.set(id, {
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      this.#transport
        .send({ jsonrpc: '2.0', id, method, params } as JSONRPCMessage)
        .catch((error: unknown) => {
          const pending = this.#pending.get(id);
          this.#pending.delete(id);
          pending?.reject(
            new SdkError(SdkErrorCode.SendFailed, `could not send ${method}: ${String(error)}`),
          );
        });
    });
  }

  /** Settles a raw request's response; false for any other message (the SDK's). */
  #settle(message: JSONRPCMessage): boolean {
    const reply = message as {
      id?: unknown;
      method?: unknown;
      result?: unknown;
      error?: { code: number; message: string; data?: unknown };
    };
    if (typeof reply.id !== 'string' || !reply.id.startsWith(ID_PREFIX) || reply.method !== undefined) {
      return false;
    }
    const pending = this.#pending.get(reply.id);
    if (!pending) return true;
    this.#pending.delete(reply.id);
    if (reply.error) {
      pending.reject(new ProtocolError(reply.error.code, reply.error.message, reply.error.data));
    } else if (typeof reply.result === 'object' && reply.result !== null && !Array.isArray(reply.result)) {
      pending.resolve(reply.result as Record<string, unknown>);
    } else {
      pending.reject(new ProtocolError(-32603, 'the upstream answered with a result that is not an object'));
    }
    return true;
  }

  #failAll(): void {
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(closedError());
    this.#pending.clear();
  }
}

function closedError(): SdkError {
  return new SdkError(SdkErrorCode.ConnectionClosed, 'the connection closed');
}
