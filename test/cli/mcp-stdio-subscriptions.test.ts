import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as ModernClient } from '@modelcontextprotocol/client';
import { StdioClientTransport as ModernStdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BIN } from '../helpers/cli-runner.ts';
import { MODERN_FIXTURE } from '../helpers/era-fixtures.ts';
import { waitFor } from '../helpers/ziggie-harness.ts';

/**
 * `ziggie mcp` (stdio) with a 2026-07-28 client: a `subscriptions/listen` naming resources holds the
 * upstream subscription (in the upstream's era), updates arrive on the listen stream, cancelling it
 * releases it upstream; an unknown URI is refused. The SDK's stdio entry serves the listen itself;
 * Ziggie sees it through its transport (resource-listen-transport.ts).
 */
describe('ziggie mcp: resource subscriptions of a 2026-07-28 client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ziggie-stdio-sub-'));
  let client: ModernClient;
  const updates: string[] = [];
  let exposed: Record<string, string> = {};

  const textOf = (result: unknown) =>
    ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;
  const subscribedAt = async (server: string): Promise<string[]> =>
    JSON.parse(textOf(await client.callTool({ name: `${server}__subscriptions`, arguments: {} }))).uris;

  beforeAll(async () => {
    const config = join(dir, 'ziggie.yaml');
    writeFileSync(
      config,
      stringify({
        storage: { dataDir: join(dir, 'data') },
        mcpServers: {
          old: { command: process.execPath, args: [MODERN_FIXTURE, '--legacy'], protocol: '2025-11-25' },
          new: { command: process.execPath, args: [MODERN_FIXTURE] },
        },
      }),
    );
    client = new ModernClient(
      { name: 'stdio-subscriptions', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    client.setNotificationHandler('notifications/resources/updated', (notification) => {
      updates.push(notification.params.uri);
    });
    await client.connect(
      new ModernStdioClientTransport({
        command: process.execPath,
        args: [BIN, 'mcp', '--config', config],
        cwd: dir,
        stderr: 'ignore',
      }),
    );
    // Upstreams are listed in the background: wait for both counters.
    await waitFor(
      async () => {
        const { resources } = await client.listResources();
        exposed = Object.fromEntries(
          resources
            .filter((r) => r.uri.includes('counter'))
            .map((r) => [r.name.startsWith('old') || r.uri.includes('old') ? 'old' : 'new', r.uri]),
        );
        return Object.keys(exposed).length === 2;
      },
      20_000,
      'both counters listed',
    );
  });

  afterAll(async () => {
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['old', 'new'])('→ %s upstream: listen, update, cancel releases it upstream', async (upstream) => {
    const uri = exposed[upstream] as string;
    updates.length = 0;
    const subscription = await client.listen({ resourceSubscriptions: [uri] });
    try {
      expect(subscription.honoredFilter.resourceSubscriptions).toEqual([uri]);
      expect(await subscribedAt(upstream)).toEqual(['watch://counter']);
      await client.callTool({ name: `${upstream}__bump`, arguments: {} });
      await waitFor(() => updates.length > 0, 5_000, 'resources/updated on the listen stream');
      expect(updates).toEqual([uri]);
    } finally {
      await subscription.close();
    }
    await waitFor(async () => (await subscribedAt(upstream)).length === 0, 5_000, 'released upstream');
  });

  it('refuses a URI no upstream offers', async () => {
    await expect(client.listen({ resourceSubscriptions: ['nowhere://nothing'] })).rejects.toThrow(
      /unknown resource "nowhere:\/\/nothing"/,
    );
  });
});
