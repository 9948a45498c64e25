import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEraZiggie } from '../helpers/era-fixtures.ts';
import { connectClient, type TestClient } from '../helpers/mcp-client.ts';
import { connectModernClient, type ModernTestClient } from '../helpers/modern-client.ts';
import { type Harness, waitFor } from '../helpers/ziggie-harness.ts';

const COUNTER = 'watch://counter';

/**
 * Resource subscriptions for every client era against every upstream era, through the aggregate
 * endpoint: a 2025 session subscribes with `resources/subscribe` and gets
 * `notifications/resources/updated` on its session; a 2026-07-28 client opens a
 * `subscriptions/listen` stream naming the resource and gets them there. Upstream, Ziggie
 * subscribes in the upstream's era (2025: `resources/subscribe`; 2026: a listen stream of its own),
 * once per URI for all subscribers; the fixture's `subscriptions` tool says what it sees.
 */
describe('resource subscriptions across eras', () => {
  let harness: Harness;
  let legacy: TestClient;
  let modern: ModernTestClient;
  const modernUpdates: string[] = [];

  const exposed = (server: string, uri = COUNTER) =>
    harness.ziggie.gateway.aggregateView().exposeUri(server, uri);
  const textOf = (result: unknown) =>
    ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;
  /** What the fixture behind `server` sees subscribed, and its process id. */
  const fixture = async (server: string): Promise<{ uris: string[]; pid: number }> =>
    JSON.parse(textOf(await legacy.client.callTool({ name: `${server}__subscriptions`, arguments: {} })));
  const subscribedAt = async (server: string) => (await fixture(server)).uris;
  /** What Ziggie holds upstream. */
  const heldBy = (server: string) => harness.ziggie.gateway.upstream(server)?.subscribedResources();
  const released = (server: string) =>
    waitFor(
      async () => heldBy(server)?.length === 0 && (await subscribedAt(server)).length === 0,
      5_000,
      'the upstream subscription released',
    );
  const bump = (server: string) => legacy.client.callTool({ name: `${server}__bump`, arguments: {} });

  beforeAll(async () => {
    harness = await startEraZiggie({}, { gateway: { restart: { initialDelayMs: 100, maxDelayMs: 500 } } });
    const h = harness;
    await waitFor(
      () => {
        const uris = h.ziggie.gateway
          .aggregateView()
          .resources()
          .map((r) => r.uri);
        return uris.includes(exposed('old')) && uris.includes(exposed('new'));
      },
      15_000,
      'both upstreams listed with their resources',
    );
    legacy = await connectClient(`${harness.baseUrl}/mcp`);
    modern = await connectModernClient(`${harness.baseUrl}/mcp`);
    modern.client.setNotificationHandler('notifications/resources/updated', (notification) => {
      modernUpdates.push(notification.params.uri);
    });
  });

  afterAll(async () => {
    await legacy?.close();
    await modern?.close();
    await harness?.stop();
  });

  describe.each([
    { upstream: 'old', upstreamEra: '2025-11-25' },
    { upstream: 'new', upstreamEra: '2026-07-28' },
  ])('→ $upstreamEra upstream', ({ upstream }) => {
    it('2025 client: resources/subscribe, updates on the session, unsubscribe releases it upstream', async () => {
      const uri = exposed(upstream);
      legacy.updatedUris.length = 0;
      await legacy.client.subscribeResource({ uri });
      expect(await subscribedAt(upstream)).toEqual([COUNTER]);
      await bump(upstream);
      await waitFor(() => legacy.updatedUris.length > 0, 5_000, 'resources/updated on the session');
      expect(legacy.updatedUris).toEqual([uri]);
      await legacy.client.unsubscribeResource({ uri });
      await released(upstream);
    });

    it('2026 client: subscriptions/listen, updates on the stream, closing it releases it upstream', async () => {
      const uri = exposed(upstream);
      modernUpdates.length = 0;
      const subscription = await modern.client.listen({ resourceSubscriptions: [uri] });
      try {
        expect(subscription.honoredFilter.resourceSubscriptions).toEqual([uri]);
        expect(await subscribedAt(upstream)).toEqual([COUNTER]);
        await bump(upstream);
        await waitFor(() => modernUpdates.length > 0, 5_000, 'resources/updated on the listen stream');
        expect(modernUpdates).toEqual([uri]);
      } finally {
        await subscription.close();
      }
      await released(upstream);
    });

    it('shares one upstream subscription between a session and a listen stream until the last goes', async () => {
      const uri = exposed(upstream);
      legacy.updatedUris.length = 0;
      modernUpdates.length = 0;
      await legacy.client.subscribeResource({ uri });
      const subscription = await modern.client.listen({ resourceSubscriptions: [uri] });
      try {
        expect(await subscribedAt(upstream)).toEqual([COUNTER]);
        await bump(upstream);
        await waitFor(
          () => legacy.updatedUris.length > 0 && modernUpdates.length > 0,
          5_000,
          'the update reaching both',
        );
        // Once each: one upstream subscription, however many subscribers.
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect([legacy.updatedUris, modernUpdates]).toEqual([[uri], [uri]]);
        await legacy.client.unsubscribeResource({ uri });
        expect(await subscribedAt(upstream)).toEqual([COUNTER]);
      } finally {
        await subscription.close();
      }
      await released(upstream);
    });

    it('subscribes again upstream after the upstream restarted; subscribers keep getting updates', async () => {
      const uri = exposed(upstream);
      await legacy.client.subscribeResource({ uri });
      const subscription = await modern.client.listen({ resourceSubscriptions: [uri] });
      try {
        const before = await fixture(upstream);
        expect(before.uris).toEqual([COUNTER]);
        const restarts = () => harness.ziggie.gateway.upstream(upstream)?.status().restarts ?? 0;
        const restartsBefore = restarts();
        process.kill(before.pid, 'SIGKILL');
        await waitFor(
          () =>
            restarts() > restartsBefore &&
            harness.ziggie.gateway.upstream(upstream)?.status().state === 'healthy',
          15_000,
          'the upstream restarted',
        );
        await waitFor(
          async () => {
            const after = await fixture(upstream).catch(() => undefined);
            return after !== undefined && after.pid !== before.pid && after.uris.includes(COUNTER);
          },
          5_000,
          'the subscription made again on the new process',
        );
        legacy.updatedUris.length = 0;
        modernUpdates.length = 0;
        await bump(upstream);
        await waitFor(
          () => legacy.updatedUris.length > 0 && modernUpdates.length > 0,
          5_000,
          'the update reaching both subscribers',
        );
        expect([legacy.updatedUris, modernUpdates]).toEqual([[uri], [uri]]);
      } finally {
        await legacy.client.unsubscribeResource({ uri });
        await subscription.close();
      }
      await released(upstream);
    });

    it('refuses a subscription to a resource the upstream does not offer', async () => {
      const unknown = exposed(upstream, 'watch://nothing-here');
      await expect(legacy.client.subscribeResource({ uri: unknown })).rejects.toThrow(
        /-32602.*unknown resource/,
      );
      await expect(modern.client.listen({ resourceSubscriptions: [unknown] })).rejects.toThrow(
        /unknown resource/,
      );
      expect(await subscribedAt(upstream)).toEqual([]);
      expect(heldBy(upstream)).toEqual([]);
    });
  });
});
