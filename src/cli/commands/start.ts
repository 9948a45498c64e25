import type { Command } from 'commander';
import type { ResolvedConfig } from '../../config/index.ts';
import { ZiggieError } from '../../core/errors.ts';
import { type ConfigFlags, configOptions, loadCliConfig } from '../config-flags.ts';

/** `ziggie start`: serve the gateway over HTTP until SIGINT/SIGTERM. */
export function registerStart(program: Command): void {
  configOptions(
    program
      .command('start')
      .description('start Ziggie: the MCP gateway on http://<host>:<port>/mcp, REST API, metrics')
      .option('--port <n>', 'port to listen on; 0 picks a free one (default 4000)')
      .option('--host <h>', 'address to bind (default 127.0.0.1)'),
  ).action(async (flags: ConfigFlags) => {
    const config = await loadCliConfig(flags);
    // Loaded here, not at the top: `ziggie --help` and the remote commands need none of the server.
    const { Ziggie } = await import('../../ziggie.ts');
    const ziggie = await Ziggie.start(config);
    const address = await ziggie.listen().catch(async (error: unknown) => {
      await ziggie.stop();
      throw listenError(error, config);
    });
    const servers = ziggie.gateway.servers();
    const healthy = servers.filter((s) => s.status.state === 'healthy').length;
    // The banner goes to stdout (its first line is the bound address, also when --port 0); logs to stderr.
    process.stdout.write(
      [
        `Ziggie ${address}`,
        `  MCP endpoint   ${address}/mcp  (${healthy}/${servers.length} upstreams healthy; per server: /servers/<name>/mcp)`,
        `  REST API       ${address}/api/mcp/tools · /api/mcp/health · /api/mcp/servers`,
        `  metrics        ${address}/metrics   health: /healthz /readyz`,
        `  config         ${config.configPath ?? '(defaults)'}   data: ${config.storage.url ? storageKind(config.storage.url) : config.storage.dataDir}`,
        ...authLines(ziggie.auth.settings.mode, ziggie.bootstrap),
        '',
      ].join('\n'),
    );
    await waitForSignal();
    process.stderr.write('Ziggie stopping…\n');
    await ziggie.stop();
  });
}

/** What the banner says about authentication: the mode, and a bootstrap key made by this start (once). */
function authLines(
  mode: 'required' | 'local',
  bootstrap: { admin: string; key?: string; fromEnvironment: boolean } | undefined,
): string[] {
  const lines = [
    mode === 'local'
      ? `  auth           local: requests from this machine without credentials act as admin "${bootstrap?.admin ?? 'admin'}" (auth.mode)`
      : '  auth           required: every request but /healthz, /readyz and sign-in needs a key, token or session',
  ];
  if (bootstrap?.key) {
    lines.push(
      `  bootstrap key  ${bootstrap.key}`,
      `                 the API key of admin "${bootstrap.admin}", shown this once: keep it (Authorization: Bearer <key>, or --token)`,
    );
  } else if (bootstrap?.fromEnvironment) {
    lines.push(`  bootstrap key  admin "${bootstrap.admin}" created with the key in $ZIGGIE_BOOTSTRAP_TOKEN`);
  }
  return lines;
}

function storageKind(url: string): string {
  return /^postgres/.test(url) ? 'PostgreSQL' : url;
}

/** Listening failures name the setting to change instead of showing a socket error. */
function listenError(error: unknown, config: ResolvedConfig): unknown {
  const { host, port } = config.server;
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EADDRINUSE':
      return new ZiggieError(
        'CONFIG_INVALID',
        `server.port: ${host}:${port} is already in use; stop the other process or choose another port (--port)`,
      );
    case 'EACCES':
      return new ZiggieError('CONFIG_INVALID', `server.port: not allowed to listen on port ${port} (EACCES)`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ZiggieError(
        'CONFIG_INVALID',
        `server.host: cannot listen on "${host}" (${code}): not an address of this machine`,
      );
    default:
      return error;
  }
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
