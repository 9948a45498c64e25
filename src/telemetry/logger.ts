import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * The service logger: JSON lines on stderr (stdout stays free for `ziggie mcp`, where it carries the
 * MCP protocol). Secrets never reach it: upstream env and headers are not logged.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'ziggie' },
      redact: {
        paths: ['*.headers', '*.env', '*.authorization', '*.token', '*.password'],
        censor: '<redacted>',
      },
    },
    pino.destination(2),
  );
}
