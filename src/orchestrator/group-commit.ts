import type { StoreTx } from '../store/types.ts';

type Transact = <T>(fn: (tx: StoreTx) => Promise<T>) => Promise<T>;

/** A change: `alone` says whether it is the only one in its transaction (nothing runs after it but the end). */
type Change<T> = (tx: StoreTx, alone: boolean) => Promise<T>;

interface Queued {
  fn: Change<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit (DESIGN.md: "throughput comes from batching commits, not from weakening them"):
 * changes asked for while a transaction is being written wait and then commit together, in one
 * transaction, so that one fsync (SQLite `synchronous=FULL`) or one round of commits (PostgreSQL)
 * serves many of them. Each change is still all or nothing: when one of a batch throws, the batch
 * rolls back and its changes are run again one transaction each, so that each caller gets its own
 * result or error and nothing of a failed change is kept.
 *
 * Nothing waits on purpose beyond one turn of the event loop: with no load, a change is written at
 * once, alone; under load the batches grow by themselves while the previous commit is on its way.
 */
export class GroupCommit {
  readonly #transact: Transact;
  readonly #maxBatch: number;
  #queue: Queued[] = [];
  #flushing = false;

  constructor(transact: Transact, maxBatch = 256) {
    this.#transact = transact;
    this.#maxBatch = maxBatch;
  }

  /** Resolves once nothing is queued or being written (before the store is closed). */
  async idle(): Promise<void> {
    while (this.#queue.length > 0 || this.#flushing) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  run<T>(fn: Change<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        // Let the event loop take in what arrived meanwhile (agents' results, requests) first: on
        // SQLite the commit blocks the thread, so nothing can queue up while it runs.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = this.#queue.splice(0, this.#maxBatch);
        if (batch.length === 1) {
          await this.#alone(batch[0] as Queued);
          continue;
        }
        let results: unknown[] | undefined;
        try {
          results = await this.#transact(async (tx) => {
            const out: unknown[] = [];
            for (const op of batch) out.push(await op.fn(tx, false));
            return out;
          });
        } catch {
          results = undefined;
        }
        if (results) {
          for (const [i, op] of batch.entries()) op.resolve(results[i]);
        } else {
          for (const op of batch) await this.#alone(op);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #alone(op: Queued): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        op.resolve(await this.#transact((tx) => op.fn(tx, true)));
        return;
      } catch (error) {
        // PostgreSQL chose this transaction as a deadlock's (or serialization's) victim: it was
        // rolled back whole, so running it again is safe.
        if (attempt < 3 && isRetryable(error)) continue;
        op.reject(error);
        return;
      }
    }
  }
}

/** PostgreSQL's deadlock_detected and serialization_failure, also when wrapped by a ZiggieError. */
function isRetryable(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 3; depth++) {
    if (e.code === '40P01' || e.code === '40001') return true;
    e = e.cause as typeof e;
  }
  return false;
}
