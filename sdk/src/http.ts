/** What Ziggie answered with an error: `{error: {code, message, details?}}` and the HTTP status. */
export class ZiggieApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ZiggieApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** `http://host:4000` from any of `http(s)://host:4000[/…]` or `ws(s)://host:4000[/…]`. */
export function httpBase(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:';
  if (parsed.protocol === 'wss:') parsed.protocol = 'https:';
  return parsed.origin;
}

/** An error answer as a ZiggieApiError (the body's code and message when it has them). */
export async function apiError(response: Response, what: string): Promise<ZiggieApiError> {
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as {
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    if (error?.code && error.message) {
      return new ZiggieApiError(response.status, error.code, `${what}: ${error.message}`, error.details);
    }
  } catch {
    // Not JSON: a proxy's page, say.
  }
  return new ZiggieApiError(
    response.status,
    'HTTP_ERROR',
    `${what}: HTTP ${response.status} ${text.slice(0, 200)}`,
  );
}

/** One JSON request to the REST API with the bearer token; throws ZiggieApiError on an error answer. */
export async function requestJson<T>(
  base: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  });
  if (!response.ok) throw await apiError(response, `${method} ${path}`);
  return (await response.json()) as T;
}
