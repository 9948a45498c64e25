import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

export interface TestClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Every sampling/elicitation/roots request the client received. */
  requests: Array<{ method: string; params: unknown }>;
  logs: Array<{ level: string; logger?: string; data: unknown }>;
  updatedUris: string[];
  toolListChanges: number;
  close(): Promise<void>;
}

/**
 * A 2025-era client (the v1 SDK, as most MCP clients in use are) connected over Streamable HTTP,
 * answering sampling, elicitation and roots like a real host application would.
 */
export async function connectClient(
  url: string,
  options: { capabilities?: boolean } = {},
): Promise<TestClient> {
  const withCapabilities = options.capabilities ?? true;
  const client = new Client(
    { name: 'ziggie-test-client', version: '1.0.0' },
    { capabilities: withCapabilities ? { sampling: {}, elicitation: {}, roots: { listChanged: true } } : {} },
  );
  const state: Omit<TestClient, 'client' | 'transport' | 'close'> = {
    requests: [],
    logs: [],
    updatedUris: [],
    toolListChanges: 0,
  };
  if (withCapabilities) {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      state.requests.push({ method: request.method, params: request.params });
      return {
        role: 'assistant',
        model: 'test-model',
        content: { type: 'text', text: 'sampled by the test client' },
      };
    });
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      state.requests.push({ method: request.method, params: request.params });
      // Answers the fixtures' questions (a name; a yes/no `ok`) and server-everything's form alike.
      if (String(request.params.message).includes('name?'))
        return { action: 'accept', content: { name: 'Ada' } };
      return {
        action: 'accept',
        content: { ok: true, color: 'blue', name: 'Ada', email: 'ada@example.com' },
      };
    });
    client.setRequestHandler(ListRootsRequestSchema, async (request) => {
      state.requests.push({ method: request.method, params: request.params });
      return { roots: [{ uri: 'file:///work/project', name: 'project' }] };
    });
  }
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    state.logs.push(n.params as TestClient['logs'][number]);
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    state.updatedUris.push(n.params.uri);
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    state.toolListChanges++;
  });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  const result = state as TestClient;
  result.client = client;
  result.transport = transport;
  result.close = async () => {
    await transport.terminateSession().catch(() => {});
    await client.close();
  };
  return result;
}
