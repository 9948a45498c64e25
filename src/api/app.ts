import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuthService } from '../auth/index.ts';
import type { Bus } from '../bus/bus.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { AgentHub } from '../orchestrator/agent-hub.ts';
import type { TaskService } from '../orchestrator/task-service.ts';
import type { AgentRegistry } from '../registry/agent-registry.ts';
import type { WorkspaceRegistry } from '../registry/workspace-registry.ts';
import type { Store } from '../store/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { agentRoutes } from './agent-routes.ts';
import { agentSocketRoutes } from './agent-socket-routes.ts';
import { auditRoutes } from './audit-routes.ts';
import { registerAuthHook } from './auth-hook.ts';
import { authRoutes } from './auth-routes.ts';
import { registerErrorHandler } from './error-handler.ts';
import { eventRoutes } from './event-routes.ts';
import { healthRoutes } from './health-routes.ts';
import { registerHostOriginGuard } from './host-origin-guard.ts';
import { mcpFacadeRoutes } from './mcp-facade-routes.ts';
import { mcpRoutes } from './mcp-routes.ts';
import { registerOpenApi } from './openapi.ts';
import { taskLogRoutes } from './task-log-routes.ts';
import { taskRoutes } from './task-routes.ts';
import { usageRoutes } from './usage-routes.ts';
import { workspaceRoutes } from './workspace-routes.ts';

export interface AppOptions {
  gateway: Gateway;
  store: Store;
  auth: AuthService;
  audit: AuditLog;
  workspaces: WorkspaceRegistry;
  agents: AgentRegistry;
  tasks: TaskService;
  /** Live connections of remote agents (`GET /api/agents/connect`). */
  agentHub: AgentHub;
  /** Task and other state-change events, for live views (SSE, WebSocket). */
  bus: Bus;
  metrics: Metrics;
  logger: Logger;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  maxBodyBytes: number;
  sessionIdleMs?: number;
}

/** The HTTP face of Ziggie: one Fastify app, each area a plugin, request-wide checks as hooks. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ room: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    // Streamable HTTP keeps GET streams open; Fastify must not wait for them on close.
    forceCloseConnections: true,
  });
  // WebSocket routes (`wsHandler`) for every plugin, registered once and first: an upgrade goes
  // through the hooks below (Host/Origin, auth) like any request, and this plugin's own hook must
  // run before them, or the socket of an upgrade they refuse is never closed (and close() hangs).
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  registerHostOriginGuard(app, options);
  // Before any route: it checks each route declares its access as it is registered.
  registerAuthHook(app, options.auth);
  registerErrorHandler(app);
  // Before any route too: it documents every route registered after it (GET /api/openapi.json).
  await registerOpenApi(app, { cookieName: options.auth.settings.sessions.cookieName });
  await app.register(healthRoutes, options);
  await app.register(mcpFacadeRoutes, options);
  await app.register(authRoutes, { auth: options.auth });
  await app.register(auditRoutes, { audit: options.audit });
  await app.register(workspaceRoutes, { workspaces: options.workspaces });
  await app.register(agentRoutes, { agents: options.agents });
  await app.register(taskRoutes, { tasks: options.tasks });
  await app.register(agentSocketRoutes, { hub: options.agentHub });
  await app.register(taskLogRoutes, { store: options.store });
  await app.register(eventRoutes, { bus: options.bus });
  await app.register(usageRoutes, { store: options.store });
  await app.register(mcpRoutes, {
    gateway: options.gateway,
    auth: options.auth,
    workspaces: options.workspaces,
    agents: options.agents,
    maxBodyBytes: options.maxBodyBytes,
    sessionIdleMs: options.sessionIdleMs ?? 30 * 60_000,
  });
  return app;
}
