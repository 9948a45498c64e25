import { ProtocolError, ProtocolErrorCode, type ServerContext } from '@modelcontextprotocol/server';
import type { Permission } from '../../core/access.ts';

/**
 * Refuses an MCP request whose caller lacks `permission`. Over HTTP the auth hook passes the
 * caller's permissions as `authInfo.scopes`; a request over HTTP without them is refused (fail
 * closed). Over stdio (`ziggie mcp`) there is no HTTP and no one else: the local user may do all.
 */
export function assertPermitted(ctx: ServerContext, permission: Permission): void {
  if (ctx.http === undefined) return;
  if (ctx.http.authInfo?.scopes.includes(permission)) return;
  throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `this method needs "${permission}"`, {
    code: 'PERMISSION_DENIED',
    missing: [permission],
  });
}
