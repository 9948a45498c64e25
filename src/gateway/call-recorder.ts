import type { Logger } from 'pino';
import type { CallLogEntry, CallLogRepo } from '../store/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';

const FLUSH_EVERY_MS = 1000;
const FLUSH_AT_ENTRIES = 500;

/**
 * Records every tool call: Prometheus counters/histograms at once, and the call log (per-tool
 * stats) in batches so a busy gateway does one database write per second, not one per call.
 */
export class CallRecorder {
  readonly #metrics: Metrics;
  readonly #log: CallLogRepo;
  readonly #logger: Logger;
  #pending: CallLogEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(metrics: Metrics, log: CallLogRepo, logger: Logger) {
    this.#metrics = metrics;
    this.#log = log;
    this.#logger = logger;
  }

  record(server: string, tool: string, status: CallLogEntry['status'], durationMs: number): void {
    this.#metrics.mcpRequests.inc({ server_name: server, tool_name: tool, status });
    this.#metrics.mcpRequestDuration.observe({ server_name: server, status }, durationMs / 1000);
    this.#pending.push({ server, tool, status, durationMs, at: new Date() });
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
      .then(() => this.#log.append(batch))
      .catch((error: unknown) =>
        this.#logger.error({ err: error, entries: batch.length }, 'could not store the call log'),
      );
    return this.#flushing;
  }
}
