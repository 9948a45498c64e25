import type { FastifyRequest } from 'fastify';
import { type Actor, type RouteAccess, SYSTEM_ACTOR } from '../core/access.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What calling this route requires. Every route declares it (a test walks all routes and fails
     * on one without): `app.get(path, { config: { access: 'workspaces.read' } }, handler)`.
     */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** Who is asking, once the auth hook has run; absent before authentication exists. */
    actor?: Actor;
  }
}

/** The actor to record for a request (the audit log's `actor`). */
export function actorOf(request: FastifyRequest): Actor {
  return request.actor ?? SYSTEM_ACTOR;
}
