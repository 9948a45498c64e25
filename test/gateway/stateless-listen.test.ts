import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectModernClient, type ModernTestClient } from '../helpers/modern-client.ts';
import { type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

const mutable = { command: process.execPath, args: [join(process.cwd(), 'test/fixtures/mutable-server.ts')] };

/** 2026-07-28 clients get `list_changed` on their `subscriptions/listen` stream. */
describe('list changes for stateless clients', () => {
  let harness: Harness;
  let c: ModernTestClient;

  beforeAll(async () => {
    harness = await startZiggie({ mcpServers: { m: mutable } });
    const h = harness;
    await waitFor(
      () => h.ziggie.gateway.aggregateView().resolveTool('m__greet') !== undefined,
      10_000,
      'tools',
    );
    c = await connectModernClient(`${harness.baseUrl}/mcp`);
  });

  afterAll(async () => {
    await c?.close();
    await harness?.stop();
  });

  it('delivers tools/list_changed when an upstream changes its tools', async () => {
    let changes = 0;
    c.client.setNotificationHandler('notifications/tools/list_changed', () => {
      changes++;
    });
    const subscription = await c.client.listen({ toolsListChanged: true });
    try {
      await c.client.callTool({ name: 'm__redefine-greet', arguments: { description: 'Now says hi' } });
      await waitFor(() => changes > 0, 5_000, 'tools/list_changed on the listen stream');
      const { tools } = await c.client.listTools({}, { cacheMode: 'bypass' });
      expect(tools.find((t) => t.name === 'm__greet')?.description).toBe('Now says hi');
    } finally {
      await subscription.close();
    }
  });
});
