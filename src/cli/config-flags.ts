import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { ResolvedConfig } from '../config/index.ts';
import { ZiggieError } from '../core/errors.ts';

export interface ConfigFlags {
  config?: string;
  mcpConfig?: string;
  dataDir?: string;
  port?: string;
  host?: string;
}

/** Adds the flags every command that builds a Ziggie from config takes. */
export function configOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'ziggie.yaml to load (default: ./ziggie.yaml when present)')
    .option('--mcp-config <file>', 'also load the mcpServers of a Claude Desktop style JSON file')
    .option('--data-dir <dir>', 'where the SQLite database lives (default .ziggie)');
}

/** Loads the config the flags name; `./ziggie.yaml` is picked up when no --config is given. */
export async function loadCliConfig(flags: ConfigFlags): Promise<ResolvedConfig> {
  const path = flags.config ?? (existsSync('ziggie.yaml') ? 'ziggie.yaml' : undefined);
  const port = flags.port === undefined ? undefined : parsePort(flags.port);
  const { loadConfig } = await import('../config/index.ts');
  return loadConfig({
    ...(path ? { path } : {}),
    ...(flags.mcpConfig ? { mcpConfigPath: flags.mcpConfig } : {}),
    env: process.env,
    overrides: {
      ...(port === undefined ? {} : { port }),
      ...(flags.host ? { host: flags.host } : {}),
      ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
    },
  });
}

function parsePort(value: string): number {
  const port = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new ZiggieError(
      'CLI_USAGE',
      `--port: expected a port number 0-65535, 0 for any free port (got "${value}")`,
    );
  }
  return port;
}
