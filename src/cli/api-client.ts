import { ZiggieError } from '../core/errors.ts';

/** How long the CLI waits for an answer, except for tool calls (the gateway times those out). */
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * The CLI's way to a running Ziggie: its REST API. Errors come back as `ZiggieError`s with the
 * server's code and message, so the CLI prints the same words the API would.
 */
export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;

  /** `token`: an API key or access token, sent as `Authorization: Bearer`. */
  constructor(baseUrl: string, token?: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  get<T>(path: string): Promise<T> {
    return this.#request<T>('GET', path);
  }

  /** `timeout: false` waits as long as the server takes (tool calls have their own timeout there). */
  post<T>(path: string, body: unknown, { timeout = true }: { timeout?: boolean } = {}): Promise<T> {
    return this.#request<T>('POST', path, body, timeout);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('PATCH', path, body);
  }

  delete(path: string): Promise<void> {
    return this.#request<void>('DELETE', path);
  }

  /**
   * A GET whose body is handed over as it arrives (exports of any size), without a timeout. A
   * failure answer is thrown like `get` throws it.
   */
  async download(path: string): Promise<ReadableStream<Uint8Array>> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
      });
    } catch (error) {
      throw this.#unreachable(error);
    }
    if (response.ok && response.body) return response.body;
    // Not OK: the body is a small JSON error, read like any other answer.
    const text = await response.text().catch(() => '');
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      throw this.#notZiggie('GET', path, response.status, 'a body that is not JSON');
    }
    const error = (payload as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (typeof error?.code !== 'string') throw this.#notZiggie('GET', path, response.status, 'no error code');
    throw new ZiggieError(
      error.code as ZiggieError['code'],
      typeof error.message === 'string' ? error.message : `HTTP ${response.status}`,
    );
  }

  async #request<T>(method: string, path: string, body?: unknown, timeout = true): Promise<T> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(timeout ? { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) } : {}),
      });
      text = await response.text();
    } catch (error) {
      throw this.#unreachable(error);
    }
    if (response.status === 204) return undefined as T;
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      throw this.#notZiggie(method, path, response.status, 'a body that is not JSON');
    }
    if (!response.ok) {
      const error = (payload as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (typeof error?.code !== 'string') {
        throw this.#notZiggie(method, path, response.status, 'no error code');
      }
      throw new ZiggieError(
        error.code as ZiggieError['code'],
        typeof error.message === 'string' ? error.message : `HTTP ${response.status}`,
      );
    }
    return payload as T;
  }

  #unreachable(error: unknown): ZiggieError {
    if (error instanceof Error && error.name === 'TimeoutError') {
      return new ZiggieError(
        'GATEWAY_UNREACHABLE',
        `the Ziggie at ${this.baseUrl} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`,
      );
    }
    const reason =
      error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
    return new ZiggieError(
      'GATEWAY_UNREACHABLE',
      `no Ziggie answering at ${this.baseUrl} (${reason}); start one with \`ziggie start\`, or pass --gateway <url>`,
    );
  }

  #notZiggie(method: string, path: string, status: number, what: string): ZiggieError {
    return new ZiggieError(
      'GATEWAY_UNREACHABLE',
      `${this.baseUrl} does not look like a Ziggie: ${method} ${path} answered HTTP ${status} with ${what}`,
    );
  }
}
