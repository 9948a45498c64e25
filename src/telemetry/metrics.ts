import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Numeric value of each upstream state in `ziggie_upstream_state` (documented in docs/metrics.md). */
export const UPSTREAM_STATE_VALUES = {
  not_started: 0,
  connecting: 1,
  healthy: 2,
  unhealthy: 3,
  restarting: 4,
  stopped: 5,
} as const;

/**
 * One Prometheus registry per Ziggie instance (no global default registry, so two instances in one
 * process — as in tests — do not collide). Metric names follow the seed documents.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly mcpRequests: Counter<'server_name' | 'tool_name' | 'status'>;
  readonly mcpRequestDuration: Histogram<'server_name' | 'status'>;
  readonly upstreamState: Gauge<'server_name'>;
  readonly upstreamRestarts: Counter<'server_name'>;
  readonly mcpSessions: Gauge<'endpoint'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.mcpRequests = new Counter({
      name: 'mcp_requests_total',
      help: 'MCP tool calls through the gateway, by upstream server, tool and outcome (ok, error, failed).',
      labelNames: ['server_name', 'tool_name', 'status'],
      registers: [this.registry],
    });
    this.mcpRequestDuration = new Histogram({
      name: 'mcp_request_duration_seconds',
      help: 'Latency of MCP tool calls through the gateway, by upstream server and outcome.',
      labelNames: ['server_name', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.upstreamState = new Gauge({
      name: 'ziggie_upstream_state',
      help: 'Upstream MCP server state: 0 not_started, 1 connecting, 2 healthy, 3 unhealthy, 4 restarting, 5 stopped.',
      labelNames: ['server_name'],
      registers: [this.registry],
    });
    this.upstreamRestarts = new Counter({
      name: 'ziggie_upstream_restarts_total',
      help: 'Reconnects of upstream MCP servers after a crash or failed health check.',
      labelNames: ['server_name'],
      registers: [this.registry],
    });
    this.mcpSessions = new Gauge({
      name: 'ziggie_mcp_sessions',
      help: 'Connected downstream MCP sessions, by endpoint.',
      labelNames: ['endpoint'],
      registers: [this.registry],
    });
  }
}
