import type { Logger } from 'pino';
import { SYSTEM_ACTOR } from '../core/access.ts';
import {
  type AuditEntry,
  type ChainAnchor,
  type ChainBreak,
  type ChainHead,
  ChainVerifier,
  type NewAuditEntry,
} from '../core/audit.ts';
import type { Page } from '../store/cursor.ts';
import type { AuditFilter, Store } from '../store/types.ts';
import { type ExportFormat, exportFormatter } from './export-format.ts';

/** Rows read per query by exports, verification and pruning: bounded memory whatever the log's size. */
export const AUDIT_PAGE_ROWS = 1000;
/** Entries deleted per transaction when pruning (each batch moves the anchor and is itself audited). */
const PRUNE_BATCH = 5000;
const DAY_MS = 86_400_000;

export interface AuditLogOptions {
  /** Entries older than this many days are pruned; 0 keeps everything. */
  retentionDays: number;
  /** How often retention runs while Ziggie is up. */
  pruneIntervalMs?: number;
}

/** The outcome of `verify()`: `broken` names the first entry that does not fit. */
export interface VerifyResult {
  ok: boolean;
  /** Entries checked and found sound (up to the break). */
  checked: number;
  head: ChainHead;
  anchor: ChainAnchor;
  broken?: ChainBreak;
}

/**
 * The audit service: queries, streaming export, chain verification and retention over the store's
 * audit repository. Changes append their entries themselves, in their own transaction
 * (`store.transaction(tx => … tx.audit.append(…))`); `record` is for events that change nothing else.
 */
export class AuditLog {
  readonly #store: Store;
  readonly #options: AuditLogOptions;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #pruning: Promise<unknown> = Promise.resolve();
  #queue: NewAuditEntry[] = [];
  #queueTimer: NodeJS.Timeout | undefined;
  #queueFlushed: Promise<void> = Promise.resolve();

  constructor(store: Store, options: AuditLogOptions, logger: Logger) {
    this.#store = store;
    this.#options = options;
    this.#logger = logger;
  }

  /** Appends entries that record no other change (a denied request, a rate limit hit). */
  record(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
    return this.#store.audit.append(entries);
  }

  /**
   * Appends soon, batched (one transaction per 250 ms or 200 entries): for events on a request path
   * that change nothing else and must not slow it down, such as denials and rate limits. Never throws;
   * a failed write is logged.
   */
  enqueue(entry: NewAuditEntry): void {
    this.#queue.push(entry);
    if (this.#queue.length >= 200) void this.flushQueue();
    else this.#queueTimer ??= setTimeout(() => void this.flushQueue(), 250).unref();
  }

  /** Writes what `enqueue` holds; resolves once it is stored. */
  flushQueue(): Promise<void> {
    if (this.#queueTimer) clearTimeout(this.#queueTimer);
    this.#queueTimer = undefined;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return this.#queueFlushed;
    this.#queueFlushed = this.#queueFlushed
      .then(() => this.#store.audit.append(batch))
      .then(
        () => {},
        (error: unknown) =>
          this.#logger.error({ err: error, entries: batch.length }, 'could not store audit entries'),
      );
    return this.#queueFlushed;
  }

  list(filter: AuditFilter, page: { limit: number; cursor?: string | null }): Promise<Page<AuditEntry>> {
    return this.#store.audit.list(filter, page);
  }

  /** Every matching entry, oldest first, read page by page. */
  async *entries(filter: AuditFilter): AsyncGenerator<AuditEntry[]> {
    let after = 0;
    for (;;) {
      const page = await this.#store.audit.scan(filter, after, AUDIT_PAGE_ROWS);
      if (page.length === 0) return;
      yield page;
      after = page.at(-1)?.id ?? after;
      if (page.length < AUDIT_PAGE_ROWS) return;
    }
  }

  /** The export as text chunks (one per page), for streaming to a client or a file. */
  async *export(filter: AuditFilter, format: ExportFormat): AsyncGenerator<string> {
    const formatter = exportFormatter(format);
    yield formatter.start();
    let first = true;
    for await (const page of this.entries(filter)) {
      yield formatter.rows(page, first);
      first = false;
    }
    yield formatter.end();
  }

  /**
   * Walks the whole chain from the anchor, page by page, and names the first entry that was edited,
   * deleted, reordered or inserted. Entries appended while it runs are checked too.
   */
  async verify(): Promise<VerifyResult> {
    for (let attempt = 0; ; attempt++) {
      const { anchor } = await this.#store.audit.chainState();
      const result = await this.#walk(anchor);
      if (result.ok || attempt >= 2) return result;
      // Retention on another node may have moved the anchor under the walk: start again from it.
      const now = await this.#store.audit.chainState();
      if (now.anchor.firstId === anchor.firstId) return result;
    }
  }

  async #walk(anchor: ChainAnchor): Promise<VerifyResult> {
    const verifier = new ChainVerifier(anchor);
    let after = anchor.firstId - 1;
    for (;;) {
      const page = await this.#store.audit.scan({}, after, AUDIT_PAGE_ROWS);
      for (const entry of page) {
        if (!verifier.push(entry)) {
          const { head } = await this.#store.audit.chainState();
          return this.#result(verifier, head, anchor);
        }
        after = entry.id;
      }
      if (page.length === AUDIT_PAGE_ROWS) continue;
      // The head is read after the rows: an append commits its rows and the head together.
      const { head } = await this.#store.audit.chainState();
      if (page.length > 0 && head.lastId > after) continue;
      verifier.finish(head);
      return this.#result(verifier, head, anchor);
    }
  }

  #result(verifier: ChainVerifier, head: ChainHead, anchor: ChainAnchor): VerifyResult {
    const broken = verifier.broken;
    return {
      ok: broken === undefined,
      checked: verifier.checked,
      head,
      anchor,
      ...(broken ? { broken } : {}),
    };
  }

  /**
   * Deletes entries older than the retention period, oldest first, in batches. Each batch is
   * verified before it is deleted (retention never erases the evidence of tampering: a broken
   * segment is kept and reported), moves the anchor to the first entry kept, and appends an
   * AUDIT_PRUNED entry in the same transaction. Returns how many entries were deleted.
   */
  prune(now: Date = new Date()): Promise<number> {
    const run = this.#pruning.then(() => this.#prune(now));
    this.#pruning = run.catch(() => {});
    return run;
  }

  async #prune(now: Date): Promise<number> {
    if (this.#options.retentionDays <= 0) return 0;
    const before = new Date(now.getTime() - this.#options.retentionDays * DAY_MS);
    const audit = this.#store.audit;
    const state = await audit.chainState();
    const cut = (await audit.firstIdAtOrAfter(before)) ?? state.head.lastId + 1;
    let deleted = 0;
    let anchor = state.anchor;
    while (anchor.firstId < cut) {
      const batchCut = Math.min(cut, anchor.firstId + PRUNE_BATCH);
      const lastHash = await this.#verifySegment(anchor, batchCut);
      if (lastHash === undefined) break;
      const removed = await this.#store.transaction(async (tx) => {
        const count = await tx.audit.prune(anchor.firstId, batchCut, lastHash);
        if (count === undefined) return undefined;
        await tx.audit.append([
          {
            actor: SYSTEM_ACTOR,
            action: 'AUDIT_PRUNED',
            entityType: 'audit',
            metadata: {
              deleted: count,
              fromId: anchor.firstId,
              toId: batchCut - 1,
              olderThan: before.toISOString(),
              retentionDays: this.#options.retentionDays,
            },
          },
        ]);
        return count;
      });
      if (removed === undefined) break;
      deleted += removed;
      anchor = { firstId: batchCut, prevHash: lastHash };
    }
    return deleted;
  }

  /** Checks entries `anchor.firstId` … `cut - 1`; returns the last one's hash, or undefined if broken. */
  async #verifySegment(anchor: ChainAnchor, cut: number): Promise<string | undefined> {
    const verifier = new ChainVerifier(anchor);
    let after = anchor.firstId - 1;
    let lastHash = anchor.prevHash;
    while (after < cut - 1) {
      const page = await this.#store.audit.scan({}, after, Math.min(AUDIT_PAGE_ROWS, cut - 1 - after));
      if (page.length === 0) break;
      for (const entry of page) {
        if (!verifier.push(entry)) break;
        after = entry.id;
        lastHash = entry.hash;
      }
      if (verifier.broken) break;
    }
    if (verifier.broken || after !== cut - 1) {
      this.#logger.error(
        { broken: verifier.broken, upTo: cut - 1 },
        'audit retention stopped: the chain is broken in the entries due for pruning; they are kept',
      );
      return undefined;
    }
    return lastHash;
  }

  /** Runs retention now and then every `pruneIntervalMs` (default hourly), when it is on. */
  start(): void {
    if (this.#options.retentionDays <= 0 || this.#timer) return;
    const run = () => {
      this.prune().catch((error: unknown) => this.#logger.error({ err: error }, 'audit retention failed'));
    };
    run();
    this.#timer = setInterval(run, this.#options.pruneIntervalMs ?? 3_600_000).unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pruning;
    await this.flushQueue();
  }
}
