import type { LoggingLevel, Server } from '@modelcontextprotocol/server';
import type { CatalogView } from '../view.ts';

/** Severity order of MCP logging levels (RFC 5424 names). */
export const LOG_SEVERITY: Record<LoggingLevel, number> = {
  debug: 0,
  info: 1,
  notice: 2,
  warning: 3,
  error: 4,
  critical: 5,
  alert: 6,
  emergency: 7,
};

/**
 * One connected downstream client: its own MCP `Server` instance and transport (never shared
 * between sessions), the view it sees, its log level and its resource subscriptions.
 */
export class DownstreamSession {
  readonly id: string;
  readonly view: CatalogView;
  readonly server: Server;
  /** Level set with `logging/setLevel`; messages below it are not forwarded. */
  logLevel: LoggingLevel | undefined;
  /** Exposed URI → upstream server and URI, for `resources/updated` routing. */
  readonly subscriptions = new Map<string, { server: string; uri: string }>();
  lastActiveAt = Date.now();

  constructor(id: string, view: CatalogView, server: Server) {
    this.id = id;
    this.view = view;
    this.server = server;
  }

  /** Whether the client declared the capability an upstream-initiated request needs. */
  supports(method: 'sampling/createMessage' | 'elicitation/create' | 'roots/list'): boolean {
    const caps = this.server.getClientCapabilities();
    if (!caps) return false;
    if (method === 'sampling/createMessage') return caps.sampling !== undefined;
    if (method === 'elicitation/create') return caps.elicitation !== undefined;
    return caps.roots !== undefined;
  }

  wantsLog(level: LoggingLevel): boolean {
    return this.logLevel === undefined || LOG_SEVERITY[level] >= LOG_SEVERITY[this.logLevel];
  }
}
