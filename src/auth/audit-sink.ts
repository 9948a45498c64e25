import type { Actor } from '../core/access.ts';

/**
 * What the auth room reports to the audit log. Named after the audit log's actions; the
 * composition root connects a sink to the log (the default records nothing). User and key changes
 * are not reported here: accounts.ts appends their entries in the transaction of the change.
 */
/** What the sink records: refusals and limits (no data change), and failed sign-ins. */
export type AuthAuditAction = 'AUTH_DENIED' | 'RATE_LIMIT_EXCEEDED' | 'AUTH_LOGIN';

/** One entry, in the shape the audit log appends (`NewAuditEntry`). */
export interface AuthAuditEvent {
  actor: Actor;
  action: AuthAuditAction;
  /** `route`, `mcp`, `user`, `key`, `session`. */
  entityType: string;
  entityId: string | null;
  metadata: Record<string, unknown>;
  ip: string | null;
  outcome: 'success' | 'failure' | 'denied';
}

/** Where auth events go. `record` must not throw; a slow sink is not awaited on the request path. */
export interface AuditSink {
  record(event: AuthAuditEvent): void | Promise<void>;
}

/** The default: nothing is recorded. */
export const NO_AUDIT: AuditSink = { record() {} };
