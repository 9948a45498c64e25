import { join } from 'node:path';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

const BOOTSTRAP = 'scope-test-bootstrap-token-0123456789abcdef';
const FIXTURE = join(process.cwd(), 'test/fixtures/modern-server.ts');

/**
 * Workspace scoping of the MCP endpoints: `/workspaces/<ws>/mcp` serves exactly the workspace's tool
 * set, and an agent identity sees and calls only the servers its workspace may use, on every
 * endpoint and in both protocol eras. Users are not confined to a workspace.
 */
describe('workspace scoping on MCP endpoints', () => {
  let harness: Harness;
  const keys: Record<string, string> = {};

  const api = (path: string, body: unknown) =>
    fetch(`${harness.baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BOOTSTRAP}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  async function legacyTools(path: string, key: string): Promise<string[]> {
    const client = new Client({ name: 'scope-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${harness.baseUrl}${path}`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    try {
      return (await client.listTools()).tools.map((t) => t.name).sort();
    } finally {
      await client.close();
    }
  }

  async function modernClient(path: string, key: string): Promise<ModernClient> {
    const client = new ModernClient(
      { name: 'scope-test-2026', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(
      new ModernTransport(new URL(`${harness.baseUrl}${path}`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    return client;
  }

  const rawStatus = async (path: string, key: string) =>
    (
      await fetch(`${harness.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 'x', version: '1' },
          },
        }),
      })
    ).status;

  beforeAll(async () => {
    const previous = process.env.ZIGGIE_BOOTSTRAP_TOKEN;
    process.env.ZIGGIE_BOOTSTRAP_TOKEN = BOOTSTRAP;
    try {
      harness = await startZiggie({
        auth: { mode: 'required' },
        mcpServers: {
          art: everythingStdio(),
          fit: { command: process.execPath, args: [FIXTURE] },
        },
        workspaces: {
          'game-art': { path: '/work/game-art', mcpServers: ['art'] },
          fitflow: { path: '/work/fitflow', mcpServers: ['fit'] },
        },
      });
    } finally {
      if (previous === undefined) delete process.env.ZIGGIE_BOOTSTRAP_TOKEN;
      else process.env.ZIGGIE_BOOTSTRAP_TOKEN = previous;
    }
    const h = harness;
    await waitFor(
      () => ['art__echo', 'fit__echo'].every((t) => h.ziggie.gateway.aggregateView().resolveTool(t)),
      20_000,
      'both upstreams listed',
    );
    for (const [id, workspace] of [
      ['painter', 'game-art'],
      ['coach', 'fitflow'],
    ] as const) {
      expect((await api('/api/agents', { id, name: id, tier: 'L3', workspace })).status).toBe(201);
      const key = await api('/api/keys', { name: id, agentId: id, tier: 'L3' });
      expect(key.status).toBe(201);
      keys[id] = ((await key.json()) as { key: string }).key;
    }
  }, 60_000);

  afterAll(async () => {
    await harness?.stop();
  });

  it("serves exactly a workspace's tool set at /workspaces/<ws>/mcp", async () => {
    const tools = await legacyTools('/workspaces/fitflow/mcp', BOOTSTRAP);
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.every((t) => t.startsWith('fit__'))).toBe(true);
    expect(await rawStatus('/workspaces/nowhere/mcp', BOOTSTRAP)).toBe(404);
  });

  it('confines an agent on /mcp to the servers of its workspace (2025 and 2026 clients)', async () => {
    const legacy = await legacyTools('/mcp', keys.painter as string);
    expect(legacy).toContain('art__echo');
    expect(legacy.some((t) => t.startsWith('fit__'))).toBe(false);

    const modern = await modernClient('/mcp', keys.coach as string);
    try {
      const names = (await modern.listTools()).tools.map((t) => t.name);
      expect(names).toContain('fit__echo');
      expect(names.some((t) => t.startsWith('art__'))).toBe(false);
      await expect(modern.callTool({ name: 'art__echo', arguments: { message: 'x' } })).rejects.toThrow(
        /unknown tool "art__echo"/,
      );
      const ok = await modern.callTool({ name: 'fit__echo', arguments: { message: 'mine' } });
      expect(JSON.stringify(ok.content)).toContain('echo: mine');
    } finally {
      await modern.close();
    }
  });

  it("refuses an agent another workspace's endpoint and a server its workspace may not use", async () => {
    expect(await rawStatus('/workspaces/fitflow/mcp', keys.painter as string)).toBe(403);
    expect(await rawStatus('/servers/fit/mcp', keys.painter as string)).toBe(403);
    expect(await legacyTools('/servers/art/mcp', keys.painter as string)).toContain('echo');
    expect(await legacyTools('/workspaces/game-art/mcp', keys.painter as string)).toContain('art__echo');
  });

  it('does not confine users: the admin sees every server on /mcp', async () => {
    const tools = await legacyTools('/mcp', BOOTSTRAP);
    expect(tools).toContain('art__echo');
    expect(tools).toContain('fit__echo');
  });
});
