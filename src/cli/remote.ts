import type { Command } from 'commander';
import { ApiClient } from './api-client.ts';

export interface RemoteFlags {
  url?: string;
  json?: boolean;
}

/** Adds `--url` and `--json` to a command that talks to a running Ziggie. */
export function remoteOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the running Ziggie (default $ZIGGIE_URL or http://127.0.0.1:4000)')
    .option('--json', 'machine-readable JSON output');
}

export function clientFor(flags: RemoteFlags): ApiClient {
  return new ApiClient(flags.url ?? process.env.ZIGGIE_URL ?? 'http://127.0.0.1:4000');
}
