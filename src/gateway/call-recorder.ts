import type { Logger } from 'pino';
import { type Actor, SYSTEM_ACTOR } from '../core/access.ts';
import type { NewAuditEntry } from '../core/audit.ts';
import type { CallLogEntry, Store } from '../store/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';

const FLUSH_EVERY_MS = 1000;
const FLUSH_AT_ENTRIES = 500;

/** Who made a call, for the audit log. */
export interface CallContext {
  actor?: Actor;
  ip?: string;
}

interface PendingCall extends CallLogEntry {
  actor: Actor;
  ip: string | null;
}

/**
 * Records every tool call: Prometheus counters/histograms at once; the call log (per-tool stats)
 * and the audit log's TOOL_CALLED entries in batches, both in one transaction per batch, so a busy
 * gateway commits once a second (or every 500 calls), not once per call. The price: a crash loses
 * at most the last second's entries, which the hot path does not wait for.
 */
export class CallRecorder {
  readonly #metrics: Metrics;
  readonly #store: Pick<Store, 'transaction'>;
  readonly #logger: Logger;
  #pending: PendingCall[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(metrics: Metrics, store: Pick<Store, 'transaction'>, logger: Logger) {
    this.#metrics = metrics;
    this.#store = store;
    this.#logger = logger;
  }

  record(
    server: string,
    tool: string,
    status: CallLogEntry['status'],
    durationMs: number,
    context: CallContext = {},
  ): void {
    this.#metrics.mcpRequests.inc({ server_name: server, tool_name: tool, status });
    this.#metrics.mcpRequestDuration.observe({ server_name: server, status }, durationMs / 1000);
    this.#pending.push({
      server,
      tool,
      status,
      durationMs,
      at: new Date(),
      actor: context.actor ?? SYSTEM_ACTOR,
      ip: context.ip ?? null,
    });
    if (this.#pending.length >= FLUSH_AT_ENTRIES) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS).unref();
  }

  /** Writes what is pending; resolves when it is stored. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return this.#flushing;
    this.#flushing = this.#flushing
      .then(() =>
        this.#store.transaction(async (tx) => {
          await tx.callLog.append(batch);
          await tx.audit.append(batch.map(toAuditEntry));
        }),
      )
      .catch((error: unknown) =>
        this.#logger.error({ err: error, entries: batch.length }, 'could not store the call log'),
      );
    return this.#flushing;
  }
}

function toAuditEntry(call: PendingCall): NewAuditEntry {
  return {
    actor: call.actor,
    action: 'TOOL_CALLED',
    entityType: 'tool',
    entityId: `${call.server}/${call.tool}`,
    metadata: { server: call.server, tool: call.tool, status: call.status },
    ip: call.ip,
    durationMs: call.durationMs,
    outcome: call.status === 'ok' ? 'success' : 'failure',
    time: call.at,
  };
}
