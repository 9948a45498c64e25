import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, Server } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ToolPinRepo } from '../store/types.ts';
import { ArgumentValidator } from './argument-validator.ts';
import { Catalog } from './catalog.ts';
import type { SessionServices } from './downstream/session-server.ts';
import { invokeTool } from './invoke-tool.ts';
import type { Upstream } from './upstream/types.ts';
import { CatalogView } from './view.ts';

const TYPED_OUTPUT = {
  type: 'object' as const,
  properties: { n: { type: 'number' } },
  required: ['n'],
};

/** A 2025 upstream (the SDK's low-level server, which checks no output schema itself). */
async function upstreamServer(): Promise<Client> {
  const server = new Server({ name: 'up', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler('tools/list', async () => ({
    tools: [
      { name: 'plain', inputSchema: { type: 'object' } },
      { name: 'typed', inputSchema: { type: 'object' }, outputSchema: TYPED_OUTPUT },
    ],
  }));
  server.setRequestHandler('tools/call', async (request) => {
    const n = request.params.arguments?.n;
    if (request.params.name === 'plain') {
      return { content: [{ type: 'text', text: 'as it came' }], _meta: { 'x-upstream': 1 } };
    }
    return { content: [{ type: 'text', text: String(n) }], structuredContent: { n } };
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'ziggie', version: '0' }, { versionNegotiation: { mode: 'legacy' } });
  await client.connect(clientSide);
  return client;
}

describe('invokeTool', () => {
  const records: Array<[string, string, string]> = [];
  let client: Client;
  let services: SessionServices;
  let view: CatalogView;

  beforeAll(async () => {
    client = await upstreamServer();
    const upstream = {
      spec: { name: 'up' },
      status: () => ({ name: 'up', state: 'healthy', era: '2025', restarts: 0 }),
      call: (fn: (c: Client, signal: AbortSignal) => Promise<unknown>) =>
        fn(client, new AbortController().signal),
    } as unknown as Upstream;
    const catalog = new Catalog(
      {} as ToolPinRepo,
      'off',
      { onListingChanged: () => {}, onToolChanged: () => {} },
      pino({ level: 'silent' }),
    );
    await catalog.refreshAll(upstream);
    view = new CatalogView(catalog, { id: 'server:up', servers: ['up'], prefixed: false }, '__', () => [
      'up',
    ]);
    services = {
      validator: new ArgumentValidator(),
      upstream: () => upstream,
      sdkTimeoutMs: () => 10_000,
      recorder: {
        record: (server: string, tool: string, status: string) => records.push([server, tool, status]),
      },
    } as unknown as SessionServices;
  });
  afterAll(async () => {
    await client?.close();
  });

  it('passes a result of a tool without output schema on as the upstream sent it', async () => {
    const callTool = vi.spyOn(client, 'callTool');
    const result = await invokeTool(services, view, 'plain', {});
    expect(result).toEqual({ content: [{ type: 'text', text: 'as it came' }], _meta: { 'x-upstream': 1 } });
    expect(records.at(-1)).toEqual(['up', 'plain', 'ok']);
    // Sent as a plain request: the SDK's per-call result parse is left to the session server.
    expect(callTool).not.toHaveBeenCalled();
    callTool.mockRestore();
  });

  it('still checks structured content against a declared output schema', async () => {
    const callTool = vi.spyOn(client, 'callTool');
    await expect(invokeTool(services, view, 'typed', { n: 2 })).resolves.toMatchObject({
      structuredContent: { n: 2 },
    });
    await expect(invokeTool(services, view, 'typed', { n: 'two' })).rejects.toThrow(/output schema/);
    expect(records.at(-1)).toEqual(['up', 'typed', 'failed']);
    expect(callTool).toHaveBeenCalledTimes(2);
    callTool.mockRestore();
  });
});
