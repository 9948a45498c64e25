import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  createRequestStateCodec,
  type Implementation,
  type RequestStateCodec,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { type Actor, SYSTEM_ACTOR } from '../core/access.ts';
import type { AuditAction, NewAuditEntry } from '../core/audit.ts';
import { ZiggieError } from '../core/errors.ts';
import type { UpstreamSpec } from '../core/upstream-spec.ts';
import type { Store, ToolStats } from '../store/types.ts';
import { type Metrics, UPSTREAM_STATE_VALUES } from '../telemetry/metrics.ts';
import { ArgumentValidator } from './argument-validator.ts';
import { CallRecorder } from './call-recorder.ts';
import { Catalog, type ListKind, type PinningMode } from './catalog.ts';
import { type HeldCallLimits, HeldCallRegistry } from './downstream/held-calls.ts';
import type { DownstreamSession } from './downstream/session.ts';
import { SessionRegistry } from './downstream/session-registry.ts';
import { createSessionServer, type SessionServices } from './downstream/session-server.ts';
import { StatelessEndpoints } from './downstream/stateless-endpoints.ts';
import type { HeldToolState } from './downstream/stateless-tool-call.ts';
import { type TaskLimits, TaskService } from './downstream/tasks/task-service.ts';
import { stopAll, UpstreamConnection } from './upstream/index.ts';
import type { Upstream, UpstreamHooks, UpstreamStatus, UpstreamTimings } from './upstream/types.ts';
import { CatalogView, type ViewSpec } from './view.ts';

export interface GatewayOptions {
  separator: string;
  pinning: PinningMode;
  timings: UpstreamTimings;
  serverInfo: Implementation;
  /** Upstream calls of stateless clients held while waiting for client input. */
  heldCalls: HeldCallLimits;
  /** Largest request body the stateless endpoints read. */
  maxBodyBytes: number;
  /** Tool calls as MCP tasks for stateless clients; absent: tasks are off. */
  tasks?: TaskLimits;
}

export interface GatewayDeps {
  store: Store;
  metrics: Metrics;
  logger: Logger;
}

/** Where a server's definition lives: the config file, or added at run time (stored). */
export type ServerSource = 'config' | 'runtime';

export interface ServerEntry {
  spec: UpstreamSpec;
  source: ServerSource;
  status: UpstreamStatus;
}

/**
 * The MCP gateway: owns the upstream connections, the catalog of what they offer and the
 * downstream sessions, and wires upstream-initiated traffic to the right session.
 */
export class Gateway implements SessionServices {
  readonly catalog: Catalog;
  readonly sessions: SessionRegistry;
  readonly recorder: CallRecorder;
  readonly validator = new ArgumentValidator();
  readonly serverInfo: Implementation;
  readonly heldCalls: HeldCallRegistry;
  /** HMAC key is per process: a held call lives in this process only, so its state may too. */
  readonly requestStateCodec: RequestStateCodec<HeldToolState>;
  readonly stateless: StatelessEndpoints;
  readonly tasks: TaskService | undefined;
  readonly #options: GatewayOptions;
  readonly #deps: GatewayDeps;
  readonly #upstreams = new Map<string, { upstream: Upstream; source: ServerSource }>();
  readonly #views = new Map<string, CatalogView>();
  readonly #hooks: UpstreamHooks;
  /** The latest listing of each server after it (re)connected, settled or not. */
  readonly #listings = new Map<string, Promise<void>>();
  /** Restarts already added to the restart counter, per server. */
  readonly #restartsCounted = new Map<string, number>();

  constructor(options: GatewayOptions, deps: GatewayDeps) {
    this.#options = options;
    this.#deps = deps;
    this.serverInfo = options.serverInfo;
    const logger = deps.logger.child({ room: 'gateway' });
    this.sessions = new SessionRegistry((name) => this.upstream(name), logger);
    this.recorder = new CallRecorder(deps.metrics, deps.store, logger);
    this.catalog = new Catalog(
      deps.store.toolPins,
      options.pinning,
      {
        onListingChanged: (server, kinds) => {
          this.sessions.notifyListChanged(server, kinds);
          this.stateless.notifyListChanged(server, kinds);
        },
        onToolChanged: () => {},
      },
      logger,
    );
    this.heldCalls = new HeldCallRegistry(options.heldCalls);
    this.requestStateCodec = createRequestStateCodec<HeldToolState>({
      key: randomBytes(32),
      ttlSeconds: Math.ceil(options.heldCalls.ttlMs / 1000),
    });
    this.stateless = new StatelessEndpoints(this, logger, options.maxBodyBytes);
    this.tasks = options.tasks && new TaskService(deps.store.mcpTasks, options.tasks, logger);
    this.#hooks = {
      onClientRequest: (server, method, params, signal, name) =>
        this.sessions.forwardClientRequest(server, method, params, signal, name),
      onNotification: (server, method, params) => this.#onUpstreamNotification(server, method, params),
      onStateChange: (status) => this.#onStateChange(status),
    };
  }

  /** Adds the configured servers and the ones stored at run time, and connects the eager ones. */
  async start(configured: readonly UpstreamSpec[]): Promise<void> {
    if (this.tasks) {
      // Passed-through task ids stay valid across restarts and nodes: their key is kept in the store.
      const secret = await this.#deps.store.auth.secrets.getOrCreate('mcp-task-ids', () =>
        randomBytes(32).toString('base64url'),
      );
      this.tasks.useSealingKey(createHash('sha256').update(secret).digest());
    }
    // Tasks a previous run left in flight are failed before any new one starts.
    await this.tasks?.recover();
    for (const spec of configured) this.#add(spec, 'config');
    for (const spec of await this.#deps.store.servers.list()) {
      if (this.#upstreams.has(spec.name)) {
        this.#deps.logger.warn(
          { server: spec.name },
          'a stored server has the name of a configured one; the config wins',
        );
        continue;
      }
      this.#add(spec, 'runtime');
    }
    await Promise.allSettled(
      [...this.#upstreams.values()].map(({ upstream }) => this.#startIfEager(upstream)),
    );
  }

  async stop(): Promise<void> {
    await this.tasks?.stop();
    this.heldCalls.cancelAll();
    await this.stateless.close();
    await this.recorder.flush();
    await stopAll([...this.#upstreams.values()].map((u) => u.upstream));
  }

  upstream(name: string): Upstream | undefined {
    return this.#upstreams.get(name)?.upstream;
  }

  servers(): ServerEntry[] {
    return [...this.#upstreams.values()].map(({ upstream, source }) => ({
      spec: upstream.spec,
      source,
      status: upstream.status(),
    }));
  }

  /** Adds a server at run time and stores it, so it is there after a restart (audited as `actor`'s). */
  async addServer(spec: UpstreamSpec, actor: Actor = SYSTEM_ACTOR): Promise<ServerEntry> {
    if (this.#upstreams.has(spec.name)) {
      throw new ZiggieError('CONFLICT', `a server named "${spec.name}" already exists`, {
        server: spec.name,
      });
    }
    await this.#deps.store.transaction(async (tx) => {
      await tx.servers.upsert(spec);
      await tx.audit.append([serverAudit('SERVER_ADDED', spec, actor)]);
    });
    const upstream = this.#add(spec, 'runtime');
    await this.#startIfEager(upstream).catch(() => {});
    return { spec, source: 'runtime', status: upstream.status() };
  }

  /** Removes a server added at run time (config servers are removed by editing the config). */
  async removeServer(name: string, actor: Actor = SYSTEM_ACTOR): Promise<void> {
    const entry = this.#upstreams.get(name);
    if (!entry) throw new ZiggieError('UPSTREAM_NOT_FOUND', `no server named "${name}"`, { server: name });
    if (entry.source === 'config') {
      throw new ZiggieError('CONFLICT', `server "${name}" is defined in the config file; remove it there`, {
        server: name,
      });
    }
    await this.#deps.store.transaction(async (tx) => {
      await tx.servers.remove(name);
      await tx.audit.append([serverAudit('SERVER_REMOVED', entry.upstream.spec, actor)]);
    });
    this.#upstreams.delete(name);
    await entry.upstream.stop();
    this.#deps.metrics.upstreamState.remove({ server_name: name });
    this.catalog.forget(name);
  }

  /** The aggregate view (`/mcp`) or one server's view (`/servers/<name>/mcp`). */
  view(spec: ViewSpec): CatalogView {
    let view = this.#views.get(spec.id);
    if (!view) {
      view = new CatalogView(this.catalog, spec, this.#options.separator, () => [...this.#upstreams.keys()]);
      this.#views.set(spec.id, view);
    }
    return view;
  }

  aggregateView(): CatalogView {
    return this.view({ id: 'aggregate', servers: 'all', prefixed: true });
  }

  /** A workspace's tool set (`/workspaces/<ws>/mcp`): the servers it may use, prefixed as on `/mcp`. */
  workspaceView(workspace: string, servers: readonly string[]): CatalogView {
    // The id carries the server list, so a workspace whose servers changed gets a fresh view.
    const sorted = [...servers].sort();
    return this.view({ id: `workspace:${workspace}:${sorted.join(',')}`, servers: sorted, prefixed: true });
  }

  serverView(name: string): CatalogView {
    if (!this.#upstreams.has(name)) {
      throw new ZiggieError('UPSTREAM_NOT_FOUND', `no server named "${name}"`, { server: name });
    }
    return this.view({ id: `server:${name}`, servers: [name], prefixed: false });
  }

  /** A new downstream session on a view: its own MCP server instance, registered for routing. */
  openSession(view: CatalogView, id: string = randomUUID()): DownstreamSession {
    const session = createSessionServer(this, view, id, { session: true });
    this.sessions.add(session);
    this.#deps.metrics.mcpSessions.inc({ endpoint: view.spec.id });
    return session;
  }

  async closeSession(session: DownstreamSession): Promise<void> {
    if (!this.sessions.has(session)) return;
    await this.sessions.remove(session);
    this.#deps.metrics.mcpSessions.dec({ endpoint: session.view.spec.id });
    await session.server.close().catch(() => {});
  }

  sdkTimeoutMs(server: string): number {
    const spec = this.upstream(server)?.spec;
    // The gateway's own per-call timeout (cockatiel) fires first and names the server; the SDK's
    // timeout only has to be longer so it never pre-empts it.
    return (spec?.timeoutMs ?? this.#options.timings.callTimeoutMs) + 5_000;
  }

  touch(view: CatalogView): void {
    for (const name of view.serverNames()) {
      const upstream = this.upstream(name);
      if (upstream?.spec.enabled && upstream.status().state === 'not_started')
        void upstream.start().catch(() => {});
    }
  }

  rootsChanged(view: CatalogView): void {
    for (const name of view.serverNames()) {
      const upstream = this.upstream(name);
      // A 2026-07-28 upstream has no roots/list_changed: it asks for roots with each call instead.
      if (upstream?.status().state !== 'healthy' || upstream.status().era === '2026') continue;
      void upstream
        .call((client) => client.sendRootsListChanged())
        .catch((error: unknown) => {
          this.#deps.logger.debug({ err: error, server: name }, 'could not announce changed roots');
        });
    }
  }

  applyLogLevel(server: string): void {
    const level = this.sessions.upstreamLogLevel(server);
    const upstream = this.upstream(server);
    if (!level || !upstream || upstream.status().state !== 'healthy') return;
    // A 2026-07-28 upstream takes the level with each call instead (see invoke-tool.ts).
    if (upstream.status().era === '2026') return;
    if (!this.catalog.listing(server)?.capabilities.logging) return;
    void upstream
      .call((client, signal) => client.setLoggingLevel(level, { signal }))
      .catch((error: unknown) => {
        this.#deps.logger.debug({ err: error, server }, 'upstream refused logging/setLevel');
      });
  }

  /** Per-tool call statistics from the call log (pending entries are written first). */
  async callStats(server?: string): Promise<ToolStats[]> {
    await this.recorder.flush();
    return this.#deps.store.callLog.stats(server);
  }

  /** Accepts the current definition of a changed tool (strict pinning shows it again). */
  async approveTool(server: string, tool: string, actor: Actor = SYSTEM_ACTOR): Promise<void> {
    if (!this.#upstreams.has(server))
      throw new ZiggieError('UPSTREAM_NOT_FOUND', `no server named "${server}"`);
    const approved = await this.#deps.store.transaction(async (tx) => {
      if (!(await this.catalog.approve(server, tool, tx.toolPins))) return false;
      await tx.audit.append([
        {
          actor,
          action: 'TOOL_APPROVED',
          entityType: 'tool',
          entityId: `${server}/${tool}`,
          metadata: { server, tool },
        },
      ]);
      return true;
    });
    if (!approved) {
      throw new ZiggieError('TOOL_NOT_FOUND', `server "${server}" has no pinned tool "${tool}"`, {
        server,
        tool,
      });
    }
  }

  #add(spec: UpstreamSpec, source: ServerSource): Upstream {
    const logger = this.#deps.logger.child({ upstream: spec.name });
    const upstream = new UpstreamConnection(spec, this.#timingsFor(spec), this.#hooks, logger);
    this.#upstreams.set(spec.name, { upstream, source });
    this.#deps.metrics.upstreamState.set({ server_name: spec.name }, UPSTREAM_STATE_VALUES.not_started);
    this.catalog.version++;
    return upstream;
  }

  #timingsFor(spec: UpstreamSpec): UpstreamTimings {
    return spec.timeoutMs
      ? { ...this.#options.timings, callTimeoutMs: spec.timeoutMs }
      : this.#options.timings;
  }

  /**
   * Connects an eager server and waits for its first listing, so that a client arriving as soon as
   * Ziggie is up (a stdio client above all) finds the tools there.
   */
  async #startIfEager(upstream: Upstream): Promise<void> {
    if (!upstream.spec.enabled || upstream.spec.connect === 'lazy') return;
    await upstream.start();
    await this.#listings.get(upstream.spec.name);
  }

  #onStateChange(status: UpstreamStatus): void {
    const metrics = this.#deps.metrics;
    metrics.upstreamState.set({ server_name: status.name }, UPSTREAM_STATE_VALUES[status.state]);
    const counted = this.#restartsCounted.get(status.name) ?? 0;
    if (status.restarts > counted) {
      metrics.upstreamRestarts.inc({ server_name: status.name }, status.restarts - counted);
      this.#restartsCounted.set(status.name, status.restarts);
    }
    this.#deps.logger.info(
      { server: status.name, state: status.state, reason: status.reason },
      'upstream state',
    );
    const upstream = this.upstream(status.name);
    if (status.state === 'healthy' && upstream) {
      // (Re)connected: list everything again — a restarted server may offer something else.
      const listing = this.catalog.refreshAll(upstream).then(
        () => this.applyLogLevel(status.name),
        (error: unknown) =>
          this.#deps.logger.warn({ err: error, server: status.name }, 'could not list upstream'),
      );
      this.#listings.set(status.name, listing);
    }
  }

  #onUpstreamNotification(server: string, method: string, params: Record<string, unknown> | undefined): void {
    const kind = /^notifications\/(tools|prompts|resources)\/list_changed$/.exec(method)?.[1] as
      | ListKind
      | undefined;
    const upstream = this.upstream(server);
    if (kind && upstream) {
      this.catalog.refresh(upstream, kind).catch((error: unknown) => {
        this.#deps.logger.warn({ err: error, server, kind }, 'could not re-list after list_changed');
      });
      return;
    }
    this.sessions.forwardNotification(server, method, params);
    // 2026-07-28 clients subscribed on their listen streams (the SDK's router matches the URI).
    if (method === 'notifications/resources/updated' && typeof params?.uri === 'string')
      this.stateless.resourceUpdated(server, params.uri);
  }
}

/** The audit entry of a run-time server change; never its env or headers (they hold secrets). */
function serverAudit(action: AuditAction, spec: UpstreamSpec, actor: Actor): NewAuditEntry {
  return {
    actor,
    action,
    entityType: 'server',
    entityId: spec.name,
    metadata: { transport: spec.transport },
  };
}
