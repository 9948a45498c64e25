import type { ServerContext } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { assertPermitted } from './permissions.ts';

const ctx = (http: unknown) => ({ http }) as unknown as ServerContext;

describe('assertPermitted (per MCP request)', () => {
  it('lets a caller through whose authInfo scopes hold the permission', () => {
    const scopes = ['mcp.tools.list', 'mcp.tools.execute'];
    expect(() =>
      assertPermitted(ctx({ authInfo: { token: '', clientId: 'user:u', scopes } }), 'mcp.tools.execute'),
    ).not.toThrow();
  });

  it('refuses one whose scopes lack it, naming it', () => {
    const http = { authInfo: { token: '', clientId: 'key:k', scopes: ['mcp.tools.list'] } };
    expect(() => assertPermitted(ctx(http), 'mcp.tools.execute')).toThrow(/needs "mcp\.tools\.execute"/);
  });

  it('fails closed over HTTP without authInfo, and trusts stdio (no HTTP at all)', () => {
    expect(() => assertPermitted(ctx({}), 'mcp.tools.execute')).toThrow(/mcp\.tools\.execute/);
    expect(() => assertPermitted(ctx(undefined), 'mcp.tools.execute')).not.toThrow();
  });
});
