import { ZiggieError } from '../core/errors.ts';

/**
 * The CLI's way to a running Ziggie: its REST API. Errors come back as `ZiggieError`s with the
 * server's code and message, so the CLI prints the same words the API would.
 */
export class ApiClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<T> {
    return this.#request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('POST', path, body);
  }

  delete(path: string): Promise<void> {
    return this.#request<void>('DELETE', path);
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (error) {
      const reason =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
      throw new ZiggieError(
        'GATEWAY_UNREACHABLE',
        `no Ziggie answering at ${this.baseUrl} (${reason}); start one with \`ziggie start\` or pass --url`,
      );
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const payload = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const error = (payload as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code = (error?.code ?? 'INTERNAL') as ZiggieError['code'];
      throw new ZiggieError(code, error?.message ?? `HTTP ${response.status}`);
    }
    return payload as T;
  }
}
