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
    const [{ StdioServerTransport }, { createLogger }, { Ziggie }] = await Promise.all([
      import('@modelcontextprotocol/server/stdio'),
      import('../../telemetry/logger.ts'),
      import('../../ziggie.ts'),
    ]);
    const logger = createLogger(config.logging.level === 'info' ? 'warn' : config.logging.level);
    const ziggie = await Ziggie.start(config, { logger });
    const session = ziggie.gateway.openSession(ziggie.gateway.aggregateView(), 'stdio');
    const transport = new StdioServerTransport();
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve;
      process.stdin.once('end', resolve);
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await session.server.connect(transport);
    await closed;
    await ziggie.gateway.closeSession(session);
    await ziggie.stop();
  });
}
