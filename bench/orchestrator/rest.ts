/** The benchmark's REST calls as the admin: agents and their keys. */

export interface Rest {
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

export function restClient(url: string, token: string): Rest {
  return {
    async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    },
  };
}

/** `fn` over `items` with at most `concurrency` at once; the results in order. */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return results;
}

/** Registers agents run by remote processes (`executor: {type: 'remote'}`), L3, `capacity` each. */
export async function createRemoteAgents(rest: Rest, ids: string[], capacity: number): Promise<void> {
  await inParallel(ids, 16, (id) =>
    rest.request('POST', '/api/agents', {
      id,
      name: id,
      tier: 'L3',
      skills: ['bench'],
      capacity,
      executor: { type: 'remote' },
    }),
  );
}

/** An agent API key for each agent (`POST /api/keys` with `agentId`), in order. */
export async function createAgentKeys(rest: Rest, ids: string[]): Promise<string[]> {
  return inParallel(ids, 16, async (id) => {
    const { key } = await rest.request<{ key: string }>('POST', '/api/keys', { name: id, agentId: id });
    return key;
  });
}
