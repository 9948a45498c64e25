import type { Command } from 'commander';
import { type ConfigFlags, configOptions, loadCliConfig } from '../config-flags.ts';

/**
 * `ziggie mcp`: the aggregate endpoint as a stdio MCP server, for clients that only launch
 * servers as processes. stdout carries the protocol, so logs go to stderr.
 */
export function registerMcp(program: Command): void {
  configOptions(
    program
      .command('mcp')
      .description('serve all upstream tools as one MCP server over stdio (for stdio-only clients)'),
  ).action(async (flags: ConfigFlags) => {
    const config = await loadCliConfig(flags);
    // Loaded here, not at the top: `ziggie --help` and the remote commands need none of the server.
    const [{ serveStdio, StdioServerTransport }, { ResourceListenTransport }, { createLogger }, { Ziggie }] =
      await Promise.all([
        import('@modelcontextprotocol/server/stdio'),
        import('../../gateway/downstream/resource-listen-transport.ts'),
        import('../../telemetry/logger.ts'),
        import('../../ziggie.ts'),
      ]);
    const logger = createLogger(config.logging.level === 'info' ? 'warn' : config.logging.level);
    const ziggie = await Ziggie.start(config, { logger });
    const { gateway } = ziggie;
    const view = gateway.aggregateView();
    // The client's first message picks the era: `initialize` gets a 2025 session (registered, so
    // upstream notifications reach it); a 2026-07-28 request gets the stateless handlers.
    const sessions: Array<ReturnType<typeof gateway.openSession>> = [];
    const detach: Array<() => void> = [];
    const closed = new Promise<void>((resolve) => {
      process.stdin.once('end', resolve);
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    const handle = serveStdio(
      (context) => {
        if (context.era === 'modern') {
          // Told of list changes and resource updates, which the entry routes onto listen streams.
          const server = gateway.stateless.server(view);
          detach.push(gateway.stateless.attachStdio(view, server));
          return server;
        }
        const session = gateway.openSession(view, 'stdio');
        sessions.push(session);
        return session.server;
      },
      {
        // A 2026 listen naming resources subscribes to them upstream (resource-listen-transport.ts).
        transport: new ResourceListenTransport(new StdioServerTransport(), (uris) =>
          gateway.stateless.holdResources(view, uris),
        ),
        onerror: (error) => logger.debug({ err: error }, 'stdio MCP'),
      },
    );
    await closed;
    await handle.close();
    for (const off of detach) off();
    for (const session of sessions) await gateway.closeSession(session);
    await ziggie.stop();
  });
}
