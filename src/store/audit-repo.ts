import { CompiledQuery, type Selectable, type SelectQueryBuilder } from 'kysely';
import {
  type AuditEntry,
  auditEntryHash,
  type ChainAnchor,
  type ChainHead,
  type NewAuditEntry,
  normalizeDuration,
} from '../core/audit.ts';
import { decodeNumericCursor, encodeCursor, type Page } from './cursor.ts';
import type { RowWriter } from './row-writer.ts';
import type { AuditLogTable, Database, StoreDb } from './schema.ts';
import { inTransaction } from './sql-transaction.ts';
import type { AuditFilter, AuditRepo, StoreDialect } from './types.ts';

/** 13 columns: 500 rows stay far below both databases' bound-parameter limits. */
const ROWS_PER_INSERT = 500;
const CURSOR_KIND = 'audit';

/**
 * Where this store last moved the chain's head (its last id and hash), shared by the store's
 * repositories across transactions. Only a hint: see SqlAuditRepo.
 */
export class AuditHeadHint {
  head: { lastId: number; lastHash: string } | undefined;
}

/**
 * Data-modifying CTEs written in the same statement as an append on PostgreSQL (the workloads and
 * transition rows of a task transaction: one round trip for the lot). `?` placeholders, `params` in
 * their order. `gate`: CTEs (with RETURNING) the head waits for, so that their row locks are taken
 * before the head's — the head is always locked last (see inTaskTransaction).
 */
export interface AppendPrefix {
  ctes: string[];
  params: unknown[];
  gate: string[];
}

/** The entries' columns as arrays, in COLUMNS order. */
const UNNEST_ENTRIES = `insert into audit_log (id, at, actor_type, actor_id, action, entity_type, entity_id,
    metadata_json, ip, duration_ms, outcome, prev_hash, hash)
  select * from unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
    ?::text[], ?::float8[], ?::text[], ?::text[], ?::text[])
  where exists (select 1 from head)`;

/** `?` placeholders numbered for PostgreSQL (`$1`, …); the SQL holds no other `?`. */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/**
 * The audit log. Appends lock the single head row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
 * `BEGIN IMMEDIATE` already holds the write lock), read the last id and hash, chain the new entries
 * after them and move the head, all in the caller's transaction: an entry commits or rolls back with
 * the change it records, and two nodes on one database never fork the chain.
 *
 * On PostgreSQL the head is not read first when this store knows where it left it (`hint`): one
 * statement (which may also write the task transaction's other rows, `appendWith`) moves the head
 * only if it is still there — the row is locked and checked as committed
 * (an `UPDATE … WHERE last_id = … AND last_hash = …`, re-checked against the newest version when
 * another transaction held it) — and inserts the entries only if it moved. When another node (or a
 * rolled-back transaction) moved it, nothing is written and the append is done the plain way.
 */
export class SqlAuditRepo implements AuditRepo {
  readonly #db: StoreDb;
  readonly #dialect: StoreDialect;
  readonly #writer: RowWriter | undefined;
  readonly #hint: AuditHeadHint | undefined;

  /** `writer`: the fast row appender, given only to repositories bound to a transaction. */
  constructor(db: StoreDb, dialect: StoreDialect, writer?: RowWriter, hint?: AuditHeadHint) {
    this.#db = db;
    this.#dialect = dialect;
    this.#writer = writer;
    this.#hint = hint;
  }

  append(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
    return this.appendWith(entries);
  }

  /**
   * `append`, with `prefix` (PostgreSQL only) written first: in the same statement when this store
   * knows where the head is, else in one of its own.
   */
  appendWith(entries: readonly NewAuditEntry[], prefix?: AppendPrefix): Promise<AuditEntry[]> {
    if (entries.length === 0 && !prefix) return Promise.resolve([]);
    return inTransaction(this.#db, async (trx) => {
      const known =
        this.#dialect === 'postgres' && entries.length > 0 && entries.length <= ROWS_PER_INSERT
          ? this.#hint?.head
          : undefined;
      if (known) {
        const { written, rows, moved } = chain(entries, known.lastId, known.lastHash);
        const gate = prefix?.gate.map((name) => `and (select count(*) from ${name}) >= 0`).join(' ') ?? '';
        const text = `with ${[
          ...(prefix?.ctes ?? []),
          `head as (update audit_head set last_id = ?, last_hash = ?
            where id = 1 and last_id = ? and last_hash = ? ${gate} returning id)`,
          `entries as (${UNNEST_ENTRIES})`,
        ].join(', ')} select count(*) as moved from head`;
        const result = await trx.executeQuery<{ moved: string | number }>(
          CompiledQuery.raw(numbered(text), [
            ...(prefix?.params ?? []),
            moved.last_id,
            moved.last_hash,
            known.lastId,
            known.lastHash,
            ...COLUMNS.map((column) => rows.map((row) => row[column])),
          ]),
        );
        if (Number(result.rows[0]?.moved ?? 0) === 1) {
          this.#remember(moved);
          return written;
        }
        // The head was not where this store left it: the prefix is written, the entries are not.
      } else if (prefix) {
        await trx.executeQuery(
          CompiledQuery.raw(numbered(`with ${prefix.ctes.join(', ')} select 1`), prefix.params),
        );
      }
      if (entries.length === 0) return [];
      const head = await this.#lockHead(trx);
      const { written, rows, moved } = chain(entries, Number(head.last_id), head.last_hash);
      if (this.#writer) {
        this.#writer.insert('audit_log', rows as unknown as Array<Record<string, unknown>>);
      } else if (this.#dialect === 'postgres' && rows.length <= ROWS_PER_INSERT) {
        // One round trip: the entries and the head move in one statement (a data-modifying CTE).
        await trx
          .with('entries', (db) => db.insertInto('audit_log').values(rows))
          .updateTable('audit_head')
          .set(moved)
          .where('id', '=', 1)
          .execute();
        this.#remember(moved);
        return written;
      } else {
        for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
          await trx
            .insertInto('audit_log')
            .values(rows.slice(start, start + ROWS_PER_INSERT))
            .execute();
        }
      }
      await trx.updateTable('audit_head').set(moved).where('id', '=', 1).execute();
      this.#remember(moved);
      return written;
    });
  }

  #remember(moved: { last_id: number; last_hash: string }): void {
    if (this.#hint) this.#hint.head = { lastId: moved.last_id, lastHash: moved.last_hash };
  }

  async list(
    filter: AuditFilter,
    page: { limit: number; cursor?: string | null },
  ): Promise<Page<AuditEntry>> {
    let query = applyFilter(this.#db.selectFrom('audit_log').selectAll(), filter);
    if (page.cursor) query = query.where('id', '<', decodeNumericCursor(CURSOR_KIND, page.cursor));
    const rows = await query
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map(toEntry);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > page.limit && last ? encodeCursor(CURSOR_KIND, last.id) : null,
    };
  }

  async scan(filter: AuditFilter, afterId: number, limit: number): Promise<AuditEntry[]> {
    const rows = await applyFilter(this.#db.selectFrom('audit_log').selectAll(), filter)
      .where('id', '>', afterId)
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toEntry);
  }

  async chainState(): Promise<{ head: ChainHead; anchor: ChainAnchor }> {
    const head = await this.#db
      .selectFrom('audit_head')
      .selectAll()
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return toChainState(head);
  }

  async firstIdAtOrAfter(time: Date): Promise<number | undefined> {
    // By id, not by time: the walk stops at the first match, after about as many rows as will be pruned.
    const row = await this.#db
      .selectFrom('audit_log')
      .select('id')
      .where('at', '>=', time.getTime())
      .orderBy('id', 'asc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.id);
  }

  prune(expectedAnchorId: number, cutId: number, anchorHash: string): Promise<number | undefined> {
    return inTransaction(this.#db, async (trx) => {
      const head = await this.#lockHead(trx);
      // Another node pruned since the caller verified the segment: leave it to the next run.
      if (Number(head.anchor_id) !== expectedAnchorId || cutId <= expectedAnchorId) return undefined;
      const result = await trx.deleteFrom('audit_log').where('id', '<', cutId).executeTakeFirst();
      await trx
        .updateTable('audit_head')
        .set({ anchor_id: cutId, anchor_hash: anchorHash })
        .where('id', '=', 1)
        .execute();
      return Number(result.numDeletedRows);
    });
  }

  async #lockHead(trx: StoreDb): Promise<Selectable<Database['audit_head']>> {
    let query = trx.selectFrom('audit_head').selectAll().where('id', '=', 1);
    if (this.#dialect === 'postgres') query = query.forUpdate();
    return query.executeTakeFirstOrThrow();
  }
}

/** The columns of an audit row, in UNNEST_ENTRIES' order. */
const COLUMNS = [
  'id',
  'at',
  'actor_type',
  'actor_id',
  'action',
  'entity_type',
  'entity_id',
  'metadata_json',
  'ip',
  'duration_ms',
  'outcome',
  'prev_hash',
  'hash',
] as const satisfies ReadonlyArray<keyof AuditLogTable>;

/** `entries` chained after the entry `lastId` with hash `lastHash`: the entries, their rows, the new head. */
function chain(entries: readonly NewAuditEntry[], lastId: number, lastHash: string) {
  let id = lastId;
  let prevHash = lastHash;
  const now = Date.now();
  const written = entries.map((entry): AuditEntry => {
    id++;
    const hashed = {
      id,
      time: new Date(entry.time?.getTime() ?? now),
      actor: { type: entry.actor.type, id: entry.actor.id },
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId ?? null,
      metadataJson: JSON.stringify(entry.metadata ?? {}),
      ip: entry.ip ?? null,
      durationMs: normalizeDuration(entry.durationMs),
      outcome: entry.outcome ?? 'success',
      prevHash,
    };
    prevHash = auditEntryHash(hashed);
    return { ...hashed, hash: prevHash };
  });
  return { written, rows: written.map(toRow), moved: { last_id: id, last_hash: prevHash } };
}

function applyFilter<O>(
  query: SelectQueryBuilder<Database, 'audit_log', O>,
  filter: AuditFilter,
): SelectQueryBuilder<Database, 'audit_log', O> {
  let q = query;
  if (filter.actorType !== undefined) q = q.where('actor_type', '=', filter.actorType);
  if (filter.actorId !== undefined) q = q.where('actor_id', '=', filter.actorId);
  if (filter.actions !== undefined && filter.actions.length > 0) q = q.where('action', 'in', filter.actions);
  if (filter.entityType !== undefined) q = q.where('entity_type', '=', filter.entityType);
  if (filter.entityId !== undefined) q = q.where('entity_id', '=', filter.entityId);
  if (filter.outcome !== undefined) q = q.where('outcome', '=', filter.outcome);
  if (filter.since !== undefined) q = q.where('at', '>=', filter.since.getTime());
  if (filter.until !== undefined) q = q.where('at', '<', filter.until.getTime());
  return q;
}

function toRow(entry: AuditEntry): AuditLogTable {
  return {
    id: entry.id,
    at: entry.time.getTime(),
    actor_type: entry.actor.type,
    actor_id: entry.actor.id,
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId,
    metadata_json: entry.metadataJson,
    ip: entry.ip,
    duration_ms: entry.durationMs,
    outcome: entry.outcome,
    prev_hash: entry.prevHash,
    hash: entry.hash,
  };
}

function toEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return {
    id: Number(row.id),
    time: new Date(Number(row.at)),
    actor: { type: row.actor_type as AuditEntry['actor']['type'], id: row.actor_id },
    action: row.action,
    entityType: row.entity_type,
    entityId: row.entity_id,
    metadataJson: row.metadata_json,
    ip: row.ip,
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    outcome: row.outcome,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toChainState(row: Selectable<Database['audit_head']>): { head: ChainHead; anchor: ChainAnchor } {
  return {
    head: { lastId: Number(row.last_id), lastHash: row.last_hash },
    anchor: { firstId: Number(row.anchor_id), prevHash: row.anchor_hash },
  };
}
