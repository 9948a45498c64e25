import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../gateway/gateway.ts';
import type { Store } from '../store/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RouteDoc } from './openapi.ts';

export interface HealthRoutesOptions {
  gateway: Gateway;
  store: Store;
  metrics: Metrics;
}

const HEALTHZ: RouteDoc = {
  summary: 'Liveness: the process runs',
  tags: ['health'],
  response: { 200: { description: '`{status: "ok"}`' } },
};
const READYZ: RouteDoc = {
  summary: 'Readiness: storage answers and no upstream is still connecting',
  tags: ['health'],
  response: {
    200: { description: '`{status: "ready", storage: "ok", upstreams: {<name>: <state>}}`' },
    503: { description: '`{status: "not_ready", storage, upstreams, connecting?}`' },
  },
};
const METRICS: RouteDoc = {
  summary: 'Prometheus metrics (text exposition format)',
  tags: ['health'],
  produces: ['text/plain'],
  response: { 200: { description: 'Prometheus text format', type: 'string' } },
};

/** `/healthz` (process up), `/readyz` (storage reachable, upstreams settled), `/metrics` (Prometheus). */
export async function healthRoutes(
  app: FastifyInstance,
  { gateway, store, metrics }: HealthRoutesOptions,
): Promise<void> {
  // Probes carry no credentials: liveness and readiness are public (readiness names the upstreams).
  app.get('/healthz', { config: { access: 'public' }, schema: HEALTHZ }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { access: 'public' }, schema: READYZ }, async (_request, reply) => {
    const storage = await store.ping().then(
      () => ({ ok: true as const }),
      (error: unknown) => ({
        ok: false as const,
        reason: error instanceof Error ? error.message : String(error),
      }),
    );
    // Ready once every upstream is connected or known down: `connecting` is the only unsettled state.
    const pending = gateway
      .servers()
      .filter((s) => s.status.state === 'connecting')
      .map((s) => s.spec.name);
    const ready = storage.ok && pending.length === 0;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      storage: storage.ok ? 'ok' : `unreachable: ${storage.reason}`,
      upstreams: Object.fromEntries(gateway.servers().map((s) => [s.spec.name, s.status.state])),
      ...(pending.length ? { connecting: pending } : {}),
    });
  });

  // Metrics name every server and tool: scrape with a viewer key.
  app.get('/metrics', { config: { access: 'mcp.tools.list' }, schema: METRICS }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
