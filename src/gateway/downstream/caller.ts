import type { AuthInfo, ServerContext } from '@modelcontextprotocol/server';
import type { Actor } from '../../core/access.ts';
import type { CallContext } from '../call-recorder.ts';

const ACTOR_TYPES: ReadonlySet<string> = new Set(['user', 'agent', 'key', 'system']);

/**
 * Who makes an MCP request, for the audit log's TOOL_CALLED entry: the actor the auth hook put in
 * `authInfo.extra.actor`. Over stdio (`ziggie mcp`) there is none, and the call is Ziggie's own.
 */
export function callerOf(ctx: ServerContext): CallContext {
  return callerOfAuth(ctx.http?.authInfo);
}

/** The same, from the `authInfo` the auth hook built for the request. */
export function callerOfAuth(authInfo: AuthInfo | undefined): CallContext {
  const actor = authInfo?.extra?.actor as Partial<Actor> | undefined;
  if (typeof actor?.id !== 'string' || typeof actor.type !== 'string' || !ACTOR_TYPES.has(actor.type))
    return {};
  return { actor: { type: actor.type, id: actor.id } };
}
