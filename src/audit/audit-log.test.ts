import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NewAuditEntry } from '../core/audit.ts';
import { TEST_DIALECTS, type TestDatabase } from '../store/test-stores.ts';
import type { Store } from '../store/types.ts';
import { AUDIT_PAGE_ROWS, AuditLog } from './audit-log.ts';

const silent = pino({ level: 'silent' });
const DAY = 86_400_000;

/**
 * The audit service on each dialect, each test on its own fresh database (tampering breaks the
 * chain for good). Rows are tampered with raw SQL, beside the running store, as an intruder with
 * database access would.
 */
describe.each(TEST_DIALECTS)('audit log ($dialect)', ({ create }) => {
  const opened: Array<{ db: TestDatabase; store: Store }> = [];
  afterEach(async () => {
    for (const { db, store } of opened.splice(0)) {
      await store.close();
      await db.drop();
    }
  });

  async function fresh(
    count: number,
    retentionDays = 0,
    time = (i: number) => new Date(Date.UTC(2026, 0, 1) + i),
  ) {
    const db = await create();
    const store = await db.open();
    opened.push({ db, store });
    const batch: NewAuditEntry[] = [];
    for (let i = 0; i < count; i++) {
      batch.push({
        actor: { type: 'user', id: `user-${i % 3}` },
        action: i % 2 ? 'AGENT_CREATED' : 'WORKSPACE_UPDATED',
        entityType: i % 2 ? 'agent' : 'workspace',
        entityId: `e-${i}`,
        metadata: { i, note: i % 10 === 0 ? 'with, "quotes"\nand lines' : 'plain' },
        durationMs: i / 7,
        time: time(i),
      });
    }
    for (let start = 0; start < batch.length; start += 2000) {
      await store.audit.append(batch.slice(start, start + 2000));
    }
    return { db, store, audit: new AuditLog(store, { retentionDays }, silent) };
  }

  it('verifies an intact chain across pages', async () => {
    const { audit } = await fresh(AUDIT_PAGE_ROWS * 2 + 17);
    expect(await audit.verify()).toMatchObject({
      ok: true,
      checked: AUDIT_PAGE_ROWS * 2 + 17,
      head: { lastId: AUDIT_PAGE_ROWS * 2 + 17 },
      anchor: { firstId: 1 },
    });
  });

  it('verifies an empty log', async () => {
    const { audit } = await fresh(0);
    expect(await audit.verify()).toMatchObject({ ok: true, checked: 0 });
  });

  it('names an edited entry', async () => {
    const { db, audit } = await fresh(50);
    await db.rawQuery(`update audit_log set metadata_json = '{"i":17,"note":"forged"}' where id = 18`);
    expect(await audit.verify()).toMatchObject({
      ok: false,
      checked: 17,
      broken: {
        id: 18,
        reason: 'hash_mismatch',
        message: 'entry 18: its content does not match its hash (edited)',
      },
    });
  });

  it('names an entry whose actor was changed', async () => {
    const { db, audit } = await fresh(50);
    await db.rawQuery(`update audit_log set actor_id = 'someone-else' where id = 3`);
    expect((await audit.verify()).broken).toMatchObject({ id: 3, reason: 'hash_mismatch' });
  });

  it('names the entry after a deleted one', async () => {
    const { db, audit } = await fresh(50);
    await db.rawQuery('delete from audit_log where id = 30');
    expect((await audit.verify()).broken).toEqual({
      id: 31,
      reason: 'missing',
      message: 'entry 31: entry 30 is missing before it (deleted)',
    });
  });

  it('names entries deleted at the end of the log', async () => {
    const { db, audit } = await fresh(50);
    await db.rawQuery('delete from audit_log where id > 47');
    expect((await audit.verify()).broken).toMatchObject({ id: 48, reason: 'truncated' });
  });

  it('names reordered rows (ids swapped)', async () => {
    const { db, audit } = await fresh(50);
    await db.rawQuery('update audit_log set id = -1 where id = 10');
    await db.rawQuery('update audit_log set id = 10 where id = 11');
    await db.rawQuery('update audit_log set id = 11 where id = -1');
    expect((await audit.verify()).broken).toMatchObject({ id: 10, reason: 'prev_hash_mismatch' });
  });

  it('names reordered rows (times swapped)', async () => {
    const { db, audit } = await fresh(50);
    const [a] = await db.rawQuery('select at from audit_log where id = 20');
    const [b] = await db.rawQuery('select at from audit_log where id = 21');
    await db.rawQuery(`update audit_log set at = ${Number(b?.at)} where id = 20`);
    await db.rawQuery(`update audit_log set at = ${Number(a?.at)} where id = 21`);
    expect((await audit.verify()).broken).toMatchObject({ id: 20, reason: 'hash_mismatch' });
  });

  it('names a forged row appended behind the head', async () => {
    const { db, audit } = await fresh(5);
    const [last] = await db.rawQuery('select hash from audit_log where id = 5');
    await db.rawQuery(
      `insert into audit_log (id, at, actor_type, actor_id, action, entity_type, entity_id, metadata_json, ip, duration_ms, outcome, prev_hash, hash)
       values (6, 1, 'user', 'mallory', 'AGENT_CREATED', 'agent', 'x', '{}', null, null, 'success', '${String(last?.hash)}', '${'a'.repeat(64)}')`,
    );
    expect((await audit.verify()).broken).toMatchObject({ id: 6 });
  });

  it('finds the break on a later page', async () => {
    const { db, audit } = await fresh(AUDIT_PAGE_ROWS + 500);
    await db.rawQuery(`update audit_log set outcome = 'failure' where id = ${AUDIT_PAGE_ROWS + 321}`);
    expect(await audit.verify()).toMatchObject({
      ok: false,
      checked: AUDIT_PAGE_ROWS + 320,
      broken: { id: AUDIT_PAGE_ROWS + 321 },
    });
  });

  it('retention prunes old entries and keeps the rest verifiable from the anchor', async () => {
    const now = Date.UTC(2026, 5, 1);
    // Entry i is (100 - i) days old.
    const { store, audit } = await fresh(100, 30, (i) => new Date(now - (100 - i) * DAY));
    const deleted = await audit.prune(new Date(now));
    // Entries 1..70 are older than 30 days (entry 71 is exactly 30 days old and is kept).
    expect(deleted).toBe(70);
    const state = await store.audit.chainState();
    expect(state.anchor.firstId).toBe(71);
    const [first] = await store.audit.scan({}, 0, 1);
    expect(first).toMatchObject({ id: 71, prevHash: state.anchor.prevHash });
    const verified = await audit.verify();
    expect(verified).toMatchObject({ ok: true, checked: 31, anchor: { firstId: 71 } });
    // The pruning itself is on record.
    const [pruned] = (await store.audit.list({ actions: ['AUDIT_PRUNED'] }, { limit: 5 })).items;
    expect(JSON.parse(pruned?.metadataJson ?? '{}')).toMatchObject({ deleted: 70, fromId: 1, toId: 70 });
    // Running it again has nothing to do.
    expect(await audit.prune(new Date(now))).toBe(0);
  });

  it('retention prunes in batches and can empty the log of old entries', async () => {
    const now = Date.UTC(2026, 5, 1);
    const { store, audit } = await fresh(12_000, 1, () => new Date(now - 10 * DAY));
    expect(await audit.prune(new Date(now))).toBe(12_000);
    expect(await audit.verify()).toMatchObject({ ok: true });
    // Only the AUDIT_PRUNED entries (one per batch) are left.
    const left = await store.audit.scan({}, 0, 100);
    expect(left.map((e) => e.action)).toEqual(['AUDIT_PRUNED', 'AUDIT_PRUNED', 'AUDIT_PRUNED']);
  });

  it('retention keeps a tampered segment instead of erasing the evidence', async () => {
    const now = Date.UTC(2026, 5, 1);
    const { db, store, audit } = await fresh(20, 5, (i) => new Date(now - (20 - i) * DAY));
    await db.rawQuery(`update audit_log set entity_id = 'forged' where id = 4`);
    expect(await audit.prune(new Date(now))).toBe(0);
    expect((await store.audit.chainState()).anchor.firstId).toBe(1);
    expect((await audit.verify()).broken).toMatchObject({ id: 4 });
  });

  it('retention 0 keeps everything', async () => {
    const { audit } = await fresh(10, 0, () => new Date(0));
    expect(await audit.prune(new Date())).toBe(0);
  });

  it('exports CSV and JSON page by page, every entry once, in order', async () => {
    const { store, audit } = await fresh(20_000);
    const scan = vi.spyOn(store.audit, 'scan');
    let csv = '';
    let chunks = 0;
    for await (const chunk of audit.export({}, 'csv')) {
      csv += chunk;
      chunks++;
    }
    // A query per page of at most AUDIT_PAGE_ROWS rows: never the whole log at once.
    expect(scan.mock.calls.length).toBeGreaterThanOrEqual(20);
    for (const call of scan.mock.calls) expect(call[2]).toBeLessThanOrEqual(AUDIT_PAGE_ROWS);
    expect(chunks).toBeGreaterThanOrEqual(21);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(
      'id,time,actorType,actorId,action,entityType,entityId,outcome,durationMs,ip,metadata,prevHash,hash',
    );
    // Quoted cells may hold line breaks: count records by their leading id instead.
    expect(csv.match(/\r\n\d+,2026-/g)?.length).toBe(20_000);
    expect(csv).toContain('"{""i"":10,""note"":""with, \\""quotes\\""\\nand lines""}"');

    let json = '';
    for await (const chunk of audit.export({ actions: ['AGENT_CREATED'] }, 'json')) json += chunk;
    const parsed = JSON.parse(json) as Array<{ id: number; action: string; metadata: { i: number } }>;
    expect(parsed).toHaveLength(10_000);
    expect(parsed.every((e) => e.action === 'AGENT_CREATED')).toBe(true);
    expect(parsed[0]).toMatchObject({ id: 2, metadata: { i: 1 } });
    expect(parsed.map((e) => e.id)).toEqual([...parsed.map((e) => e.id)].sort((a, b) => a - b));
  }, 60_000);

  it('enqueue batches entries into one append and stop writes what is left', async () => {
    const { store, audit } = await fresh(0);
    const append = vi.spyOn(store.audit, 'append');
    for (let i = 0; i < 5; i++) {
      audit.enqueue({
        actor: { type: 'key', id: 'k' },
        action: 'AUTH_DENIED',
        entityType: 'route',
        outcome: 'denied',
      });
    }
    expect(append).not.toHaveBeenCalled();
    await audit.stop();
    expect(append).toHaveBeenCalledTimes(1);
    expect((await store.audit.chainState()).head.lastId).toBe(5);
  });

  it('exports an empty selection as a valid document', async () => {
    const { audit } = await fresh(3);
    let json = '';
    for await (const chunk of audit.export({ actorId: 'nobody' }, 'json')) json += chunk;
    expect(JSON.parse(json)).toEqual([]);
    let csv = '';
    for await (const chunk of audit.export({ actorId: 'nobody' }, 'csv')) csv += chunk;
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(1);
  });
});
