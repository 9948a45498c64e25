import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.ts';
import type { ResolvedConfig } from './config/index.ts';
import { Gateway } from './gateway/gateway.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/types.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';
import { ZIGGIE_VERSION } from './version.ts';

export interface ZiggieOptions {
  /** A logger to use instead of the one built from `logging.level` (tests pass a silent one). */
  logger?: Logger;
  /** PostgreSQL schema to use (tests isolate themselves with one per run). */
  storageSchema?: string;
}

/**
 * The composition root: builds every part from the resolved config, in one place, through
 * constructors. `start()` opens storage, connects upstreams and (for `listen`) serves HTTP.
 */
export class Ziggie {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly metrics = new Metrics();
  readonly store: Store;
  readonly gateway: Gateway;
  #app: FastifyInstance | undefined;

  private constructor(config: ResolvedConfig, store: Store, logger: Logger) {
    this.config = config;
    this.logger = logger;
    this.store = store;
    const g = config.gateway;
    this.gateway = new Gateway(
      {
        separator: g.separator,
        pinning: g.pinning,
        serverInfo: { name: 'ziggie', version: ZIGGIE_VERSION },
        heldCalls: g.heldCalls,
        maxBodyBytes: config.server.maxBodyBytes,
        ...(g.tasks.enabled ? { tasks: g.tasks } : {}),
        timings: {
          callTimeoutMs: g.callTimeoutMs,
          connectTimeoutMs: g.connectTimeoutMs,
          healthIntervalMs: g.healthIntervalMs,
          restartInitialDelayMs: g.restart.initialDelayMs,
          restartMaxDelayMs: g.restart.maxDelayMs,
          breakerThreshold: g.breaker.threshold,
          breakerHalfOpenAfterMs: g.breaker.halfOpenAfterMs,
        },
      },
      { store, metrics: this.metrics, logger },
    );
  }

  /** Opens storage (running migrations) and connects the upstreams. */
  static async start(config: ResolvedConfig, options: ZiggieOptions = {}): Promise<Ziggie> {
    const logger = options.logger ?? createLogger(config.logging.level);
    const store = await openStore({
      ...(config.storage.url ? { url: config.storage.url } : {}),
      dataDir: config.storage.dataDir,
      ...(options.storageSchema ? { schema: options.storageSchema } : {}),
    });
    const ziggie = new Ziggie(config, store, logger);
    try {
      await ziggie.gateway.start(Object.values(config.mcpServers));
    } catch (error) {
      await ziggie.stop();
      throw error;
    }
    return ziggie;
  }

  /** The HTTP app (built once). */
  async app(): Promise<FastifyInstance> {
    this.#app ??= await buildApp({
      gateway: this.gateway,
      store: this.store,
      metrics: this.metrics,
      logger: this.logger,
      allowedHosts: this.config.server.allowedHosts,
      allowedOrigins: this.config.server.allowedOrigins,
      maxBodyBytes: this.config.server.maxBodyBytes,
    });
    return this.#app;
  }

  /** Serves HTTP on the configured host and port; resolves with the address. */
  async listen(): Promise<string> {
    const app = await this.app();
    return app.listen({ host: this.config.server.host, port: this.config.server.port });
  }

  async stop(): Promise<void> {
    await this.#app?.close();
    await this.gateway.stop();
    await this.store.close();
  }
}
