import type { StoreTx } from '../store/types.ts';

/**
 * Collects calls made in one turn of the event loop and hands them to `flush` together: the
 * orchestrator's hot operations (a submit to a named agent, an attempt's outcome) are then done
 * set-wise — one select, one insert, one workload update for the lot — inside one group commit.
 * `flush` answers one result per item, in order: the value, or the error refusing that item alone
 * (it must throw only for what fails the whole batch, which then fails every item).
 */
export class Batcher<Item, Result> {
  readonly #flush: (items: Item[]) => Promise<Array<{ value: Result } | { error: unknown }>>;
  #pending: Array<{ item: Item; resolve: (value: Result) => void; reject: (error: unknown) => void }> = [];
  #running = 0;

  constructor(flush: (items: Item[]) => Promise<Array<{ value: Result } | { error: unknown }>>) {
    this.#flush = flush;
  }

  /** Resolves once nothing waits or is being flushed. */
  async idle(): Promise<void> {
    while (this.#pending.length > 0 || this.#running > 0)
      await new Promise((resolve) => setTimeout(resolve, 5));
  }

  add(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      if (this.#pending.length === 0) setImmediate(() => void this.#run());
      this.#pending.push({ item, resolve, reject });
    });
  }

  async #run(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    this.#running++;
    try {
      const results = await this.#flush(batch.map((entry) => entry.item));
      batch.forEach((entry, i) => {
        const result = results[i];
        if (result && 'value' in result) entry.resolve(result.value);
        else entry.reject(result?.error ?? new Error('the batch answered nothing for this item'));
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      this.#running--;
    }
  }
}

/** Runs `check` for each item; items it refuses get their error, the others go on to `write`. */
export async function settleEach<Item, Checked, Result>(
  tx: StoreTx,
  items: readonly Item[],
  check: (item: Item) => Checked | Promise<Checked>,
  write: (tx: StoreTx, accepted: Array<{ index: number; checked: Checked }>) => Promise<Result[]>,
): Promise<Array<{ value: Result } | { error: unknown }>> {
  const results: Array<{ value: Result } | { error: unknown }> = new Array(items.length);
  const accepted: Array<{ index: number; checked: Checked }> = [];
  for (const [index, item] of items.entries()) {
    try {
      accepted.push({ index, checked: await check(item) });
    } catch (error) {
      results[index] = { error };
    }
  }
  const written = await write(tx, accepted);
  accepted.forEach(({ index }, i) => {
    results[index] = { value: written[i] as Result };
  });
  return results;
}
