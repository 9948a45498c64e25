import { type Selectable, sql } from 'kysely';
import type { StoreDb, ToolPinsTable } from './schema.ts';
import { inTransaction } from './sql-transaction.ts';
import type { ToolObservation, ToolPin, ToolPinRepo } from './types.ts';

/**
 * Tool-definition pins. `changedAt` is the time the most recent definition that differs from the
 * approved one was first seen; it is kept after approval as the time of the last change.
 */
export class SqlToolPinRepo implements ToolPinRepo {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  async list(server?: string): Promise<ToolPin[]> {
    let query = this.#db.selectFrom('tool_pins').selectAll();
    if (server !== undefined) query = query.where('server', '=', server);
    const rows = await query.orderBy('server').orderBy('tool').execute();
    return rows.map(toPin);
  }

  async get(server: string, tool: string): Promise<ToolPin | undefined> {
    const row = await this.#db
      .selectFrom('tool_pins')
      .selectAll()
      .where('server', '=', server)
      .where('tool', '=', tool)
      .executeTakeFirst();
    return row ? toPin(row) : undefined;
  }

  async observe(server: string, tool: string, hash: string, definition: string): Promise<ToolPin> {
    const [pin] = await this.observeAll(server, [{ tool, hash, definition }]);
    return pin!;
  }

  async observeAll(server: string, observations: readonly ToolObservation[]): Promise<ToolPin[]> {
    if (observations.length === 0) return [];
    const now = Date.now();
    return inTransaction(this.#db, async (trx) => {
      const pins: ToolPin[] = [];
      for (const observation of observations) pins.push(await observeIn(trx, server, observation, now));
      return pins;
    });
  }

  async approve(server: string, tool: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('tool_pins')
      .set((eb) => ({ approved_hash: eb.ref('current_hash') }))
      .where('server', '=', server)
      .where('tool', '=', tool)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

/** One tool's observation inside the caller's transaction. */
async function observeIn(trx: StoreDb, server: string, seen: ToolObservation, now: number): Promise<ToolPin> {
  const { tool, hash, definition } = seen;
  // Insert-or-nothing first: race-free on PostgreSQL (a concurrent insert of the same key waits).
  const inserted = await trx
    .insertInto('tool_pins')
    .values({
      server,
      tool,
      approved_hash: hash,
      current_hash: hash,
      current_definition: definition,
      first_seen_at: now,
      changed_at: null,
    })
    .onConflict((oc) => oc.columns(['server', 'tool']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return toPin(inserted);

  // Only a different hash writes: re-observing an unchanged catalog costs no disk write (no fsync).
  // SET expressions read the old row, so `changed_at` compares against the previous hashes.
  const updated = await trx
    .updateTable('tool_pins')
    .set({
      current_hash: hash,
      current_definition: definition,
      changed_at: sql<number | null>`case when approved_hash <> ${hash} then ${now} else changed_at end`,
    })
    .where('server', '=', server)
    .where('tool', '=', tool)
    .where('current_hash', '<>', hash)
    .returningAll()
    .executeTakeFirst();
  if (updated) return toPin(updated);

  const unchanged = await trx
    .selectFrom('tool_pins')
    .selectAll()
    .where('server', '=', server)
    .where('tool', '=', tool)
    .executeTakeFirstOrThrow();
  return toPin(unchanged);
}

function toPin(row: Selectable<ToolPinsTable>): ToolPin {
  return {
    server: row.server,
    tool: row.tool,
    approvedHash: row.approved_hash,
    currentHash: row.current_hash,
    currentDefinition: row.current_definition,
    firstSeenAt: new Date(Number(row.first_seen_at)),
    changedAt: row.changed_at === null ? null : new Date(Number(row.changed_at)),
  };
}
