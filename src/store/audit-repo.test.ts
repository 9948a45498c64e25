import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { auditEntryHash, GENESIS_HASH, type NewAuditEntry } from '../core/audit.ts';
import { UpstreamSpecSchema } from '../core/upstream-spec.ts';
import { forEachDialect } from './test-stores.ts';

const run = promisify(execFile);
const APPENDER = join(process.cwd(), 'test/fixtures/audit-appender.ts');

const entry = (over: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
  actor: { type: 'user', id: 'alice' },
  action: 'WORKSPACE_CREATED',
  entityType: 'workspace',
  entityId: 'ws',
  ...over,
});

describe('audit repo', () => {
  forEachDialect(({ store, database }) => {
    it('chains entries: gap-free ids, each pointing at the previous hash, the head at the last', async () => {
      const audit = store().audit;
      const before = await audit.chainState();
      const written = await audit.append([
        entry({ metadata: { n: 1 } }),
        entry({ entityId: 'b', ip: '10.0.0.1', durationMs: 12.3456789, outcome: 'failure' }),
      ]);
      expect(written.map((e) => e.id)).toEqual([before.head.lastId + 1, before.head.lastId + 2]);
      expect(written[0]?.prevHash).toBe(before.head.lastHash);
      expect(written[1]?.prevHash).toBe(written[0]?.hash);
      for (const e of written) expect(auditEntryHash(e)).toBe(e.hash);
      expect(written[1]).toMatchObject({ durationMs: 12.346, ip: '10.0.0.1', outcome: 'failure' });
      expect((await audit.chainState()).head).toEqual({
        lastId: written[1]?.id,
        lastHash: written[1]?.hash,
      });
    });

    it('reads entries back exactly as hashed (unicode, fractions, nulls, big numbers)', async () => {
      const audit = store().audit;
      const [written] = await audit.append([
        entry({
          entityId: null,
          metadata: { text: 'é — 漢字 🚀 "quoted"\n', big: 2 ** 53 - 1, frac: 0.1 + 0.2, nested: [null, {}] },
          durationMs: 0.0004,
          time: new Date('2026-01-02T03:04:05.678Z'),
        }),
      ]);
      const [read] = await audit.scan({}, (written?.id ?? 1) - 1, 1);
      expect(read).toEqual(written);
      expect(read && auditEntryHash(read)).toBe(read?.hash);
    });

    it('starts from the genesis hash on a new database', async () => {
      const fresh = await database().open();
      try {
        // The suite's store wrote already; the first entry of all points at the genesis hash.
        const [first] = await fresh.audit.scan({}, 0, 1);
        expect(first).toMatchObject({ id: 1, prevHash: GENESIS_HASH });
      } finally {
        await fresh.close();
      }
    });

    it('lists newest first with filters and a cursor that neither skips nor repeats', async () => {
      const audit = store().audit;
      const base = (await audit.chainState()).head.lastId;
      const t0 = Date.UTC(2030, 0, 1);
      const batch: NewAuditEntry[] = [];
      for (let i = 0; i < 25; i++) {
        batch.push(
          entry({
            actor: { type: i % 2 ? 'agent' : 'user', id: `list-${i % 3}` },
            action: i % 5 === 0 ? 'AGENT_CREATED' : 'TOOL_CALLED',
            entityType: i % 5 === 0 ? 'agent' : 'tool',
            entityId: `list-e${i % 4}`,
            outcome: i % 7 === 0 ? 'failure' : 'success',
            time: new Date(t0 + i * 1000),
          }),
        );
      }
      await audit.append(batch);
      const since = new Date(t0);
      const all: number[] = [];
      let cursor: string | null = null;
      do {
        const page = await audit.list({ since }, { limit: 7, cursor });
        expect(page.items.length).toBeLessThanOrEqual(7);
        all.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(all).toEqual(Array.from({ length: 25 }, (_, i) => base + 25 - i));

      const ids = async (filter: Parameters<typeof audit.list>[0]) =>
        (await audit.list({ since, ...filter }, { limit: 100 })).items.map((e) => e.id - base - 1);
      expect(await ids({ actorType: 'agent', actorId: 'list-1' })).toEqual([19, 13, 7, 1]);
      expect(await ids({ actions: ['AGENT_CREATED'] })).toEqual([20, 15, 10, 5, 0]);
      expect(await ids({ entityType: 'tool', entityId: 'list-e1' })).toEqual([21, 17, 13, 9, 1]);
      expect(await ids({ outcome: 'failure' })).toEqual([21, 14, 7, 0]);
      expect(await ids({ until: new Date(t0 + 3000) })).toEqual([2, 1, 0]);
      expect(await ids({ since: new Date(t0 + 22_000) })).toEqual([24, 23, 22]);
    });

    it('refuses a cursor that is not one of its own', async () => {
      await expect(store().audit.list({}, { limit: 5, cursor: 'bm9wZQ' })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    });

    it('writes nothing when the transaction that appended rolls back', async () => {
      const before = await store().audit.chainState();
      await expect(
        store().transaction(async (tx) => {
          await tx.audit.append([entry({ entityId: 'rolled-back' })]);
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      expect(await store().audit.chainState()).toEqual(before);
      expect((await store().audit.list({ entityId: 'rolled-back' }, { limit: 5 })).items).toEqual([]);
    });

    it('commits an entry with the change it records', async () => {
      await store().transaction(async (tx) => {
        await tx.servers.upsert(
          UpstreamSpecSchema.parse({
            name: 'audited-server',
            transport: 'http',
            url: 'http://127.0.0.1:1/mcp',
          }),
        );
        await tx.audit.append([
          entry({ action: 'SERVER_ADDED', entityType: 'server', entityId: 'audited-server' }),
        ]);
      });
      expect((await store().servers.list()).map((s) => s.name)).toContain('audited-server');
      expect((await store().audit.list({ entityId: 'audited-server' }, { limit: 5 })).items).toHaveLength(1);
    });

    it('never forks the chain when processes append at the same time', async () => {
      const options = JSON.stringify(database().options);
      const before = (await store().audit.chainState()).head.lastId;
      let childrenDone = false;
      const children = Promise.all(
        ['node-a', 'node-b'].map((tag) =>
          run(process.execPath, [APPENDER, options, '100', tag, '2'], { timeout: 60_000 }),
        ),
      ).finally(() => {
        childrenDone = true;
      });
      // This process appends too, for as long as the other two do.
      let here = 0;
      while (!childrenDone) {
        await store().audit.append([
          entry({ actor: { type: 'agent', id: 'node-here' }, entityId: `h${here}` }),
        ]);
        here++;
        // A pause, as between a busy node's writes; it also lets the event loop see the children
        // exit (node:sqlite answers synchronously).
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      for (const result of await children) expect(result.stdout).toBe('done\n');
      const after = await store().audit.chainState();
      expect(after.head.lastId).toBe(before + 200 + here);
      // Every id once, each entry chained to the one before it.
      const rows = await store().audit.scan({}, before - 1, 1_000_000);
      expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 201 + here }, (_, i) => before + i));
      for (let i = 1; i < rows.length; i++) expect(rows[i]?.prevHash).toBe(rows[i - 1]?.hash);
      expect(rows.at(-1)?.hash).toBe(after.head.lastHash);
      // The writers really did interleave (otherwise this test proves nothing).
      const tags = rows.slice(1).map((r) => r.actor.id);
      const switches = tags.filter((tag, i) => i > 0 && tag !== tags[i - 1]).length;
      expect(switches).toBeGreaterThan(10);
    }, 90_000);
  });
});
