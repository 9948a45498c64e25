import type { Command } from 'commander';
import { ZiggieError } from '../core/errors.ts';
import { ApiClient } from './api-client.ts';

/** Where the CLI finds a running Ziggie when neither `--gateway` nor `$ZIGGIE_URL` says. */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:4000';

export interface RemoteFlags {
  gateway?: string;
  url?: string;
  token?: string;
  json?: boolean;
}

/**
 * Adds `--gateway <url>` (and its alias `--url`, unless the command uses `--url` for something
 * else, as `servers add` does) and `--json` to a command that talks to a running Ziggie.
 */
export function remoteOptions(command: Command, { urlAlias = true }: { urlAlias?: boolean } = {}): Command {
  command.option('-g, --gateway <url>', `the running Ziggie (default $ZIGGIE_URL or ${DEFAULT_GATEWAY_URL})`);
  if (urlAlias) command.option('--url <url>', 'same as --gateway');
  return command
    .option('--token <key>', 'API key or access token (default $ZIGGIE_TOKEN; none needed in local mode)')
    .option('--json', 'machine-readable JSON output');
}

/** The REST client for the Ziggie the flags (or `$ZIGGIE_URL`) name. */
export function clientFor(flags: Pick<RemoteFlags, 'gateway' | 'url' | 'token'>): ApiClient {
  const [flag, value] = flags.gateway
    ? ['--gateway', flags.gateway]
    : flags.url
      ? ['--url', flags.url]
      : process.env.ZIGGIE_URL
        ? ['$ZIGGIE_URL', process.env.ZIGGIE_URL]
        : ['default', DEFAULT_GATEWAY_URL];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ZiggieError(
      'CLI_USAGE',
      `${flag}: expected the http:// URL of a running Ziggie, e.g. ${DEFAULT_GATEWAY_URL} (got "${value}")`,
    );
  }
  return new ApiClient(value, flags.token ?? (process.env.ZIGGIE_TOKEN || undefined));
}
