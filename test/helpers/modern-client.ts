import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

export interface ModernTestClient {
  client: Client;
  /** Every sampling/elicitation/roots request the client fulfilled (from `input_required`). */
  requests: Array<{ method: string; params: unknown }>;
  /** Log messages received (on the streams of the calls that asked for a level). */
  logs: Array<{ level: string; logger?: string; data: unknown }>;
  close(): Promise<void>;
}

/**
 * A 2026-07-28 client (SDK v2, pinned to that revision: no initialize, no session) over Streamable
 * HTTP. Like a real host it answers sampling, elicitation and roots; the SDK fulfils `input_required`
 * results with these handlers and retries the request.
 */
export async function connectModernClient(url: string): Promise<ModernTestClient> {
  const client = new Client(
    { name: 'ziggie-modern-test-client', version: '1.0.0' },
    {
      capabilities: { sampling: {}, elicitation: {}, roots: {} },
      versionNegotiation: { mode: { pin: '2026-07-28' } },
    },
  );
  const requests: ModernTestClient['requests'] = [];
  client.setRequestHandler('elicitation/create', async (request) => {
    requests.push({ method: 'elicitation/create', params: request.params });
    const message = String((request.params as { message?: string }).message ?? '');
    // Answers the fixtures' questions and server-everything's form alike.
    const content: Record<string, string | boolean> = message.includes('name?')
      ? { name: 'Ada' }
      : { ok: true, name: 'Ada', color: 'blue', email: 'ada@example.com' };
    return { action: 'accept', content };
  });
  client.setRequestHandler('sampling/createMessage', async (request) => {
    requests.push({ method: 'sampling/createMessage', params: request.params });
    return {
      role: 'assistant',
      model: 'test-model',
      content: { type: 'text', text: 'sampled by the modern client' },
    };
  });
  client.setRequestHandler('roots/list', async (request) => {
    requests.push({ method: 'roots/list', params: request.params });
    return { roots: [{ uri: 'file:///work/modern', name: 'modern' }] };
  });
  const logs: ModernTestClient['logs'] = [];
  client.setNotificationHandler('notifications/message', (notification) => {
    logs.push(notification.params as ModernTestClient['logs'][number]);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return { client, requests, logs, close: () => client.close() };
}
