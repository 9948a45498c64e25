import type { Command } from 'commander';
import { Ziggie } from '../../ziggie.ts';
import { type ConfigFlags, configOptions, loadCliConfig } from '../config-flags.ts';

/** `ziggie start`: serve the gateway over HTTP until SIGINT/SIGTERM. */
export function registerStart(program: Command): void {
  configOptions(
    program
      .command('start')
      .description('start Ziggie: the MCP gateway on http://<host>:<port>/mcp, REST API, metrics')
      .option('--port <n>', 'port to listen on (default 4000)')
      .option('--host <h>', 'address to bind (default 127.0.0.1)'),
  ).action(async (flags: ConfigFlags & { port?: string; host?: string }) => {
    const config = await loadCliConfig(flags);
    const ziggie = await Ziggie.start(config);
    const address = await ziggie.listen().catch(async (error: unknown) => {
      await ziggie.stop();
      throw error;
    });
    const servers = ziggie.gateway.servers();
    const healthy = servers.filter((s) => s.status.state === 'healthy').length;
    process.stderr.write(
      [
        `Ziggie ${address}`,
        `  MCP endpoint   ${address}/mcp  (${healthy}/${servers.length} upstreams healthy; per server: /servers/<name>/mcp)`,
        `  REST API       ${address}/api/mcp/tools · /api/mcp/health · /api/mcp/servers`,
        `  metrics        ${address}/metrics   health: /healthz /readyz`,
        `  config         ${config.configPath ?? '(defaults)'}   data: ${config.storage.url ? 'PostgreSQL' : config.storage.dataDir}`,
        '',
      ].join('\n'),
    );
    await waitForSignal();
    process.stderr.write('Ziggie stopping…\n');
    await ziggie.stop();
  });
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
