import { describe, expect, it } from 'vitest';
import { forEachDialect } from './test-stores.ts';
import type { CallLogEntry } from './types.ts';

describe('call log repo', () => {
  forEachDialect(({ store }) => {
    it('appends a batch of 1000 in one go and summarises it per tool', async () => {
      const start = Date.UTC(2026, 0, 1);
      const statuses = ['ok', 'ok', 'error', 'failed'] as const;
      const entries: CallLogEntry[] = Array.from({ length: 1000 }, (_, i) => ({
        server: 'calls-a',
        tool: i % 2 === 0 ? 'even' : 'odd',
        status: statuses[i % 4] ?? 'ok',
        durationMs: (i % 10) + 0.25,
        at: new Date(start + i),
      }));
      await store().callLog.append(entries);

      const stats = await store().callLog.stats('calls-a');
      // even: i % 4 ∈ {0, 2} → ok or error; odd: i % 4 ∈ {1, 3} → ok or failed.
      expect(stats).toEqual([
        {
          server: 'calls-a',
          tool: 'even',
          calls: 500,
          errors: 250,
          avgMs: 4.25,
          maxMs: 8.25,
          lastAt: new Date(start + 998),
        },
        {
          server: 'calls-a',
          tool: 'odd',
          calls: 500,
          errors: 250,
          avgMs: 5.25,
          maxMs: 9.25,
          lastAt: new Date(start + 999),
        },
      ]);
    });

    it('keeps servers apart and reports all of them without a filter', async () => {
      await store().callLog.append([
        { server: 'calls-b', tool: 'x', status: 'ok', durationMs: 2, at: new Date(1000) },
        { server: 'calls-c', tool: 'x', status: 'ok', durationMs: 4, at: new Date(2000) },
      ]);
      expect(await store().callLog.stats('calls-b')).toEqual([
        { server: 'calls-b', tool: 'x', calls: 1, errors: 0, avgMs: 2, maxMs: 2, lastAt: new Date(1000) },
      ]);
      const all = await store().callLog.stats();
      expect(
        all.filter((row) => row.server === 'calls-b' || row.server === 'calls-c').map((row) => row.server),
      ).toEqual(['calls-b', 'calls-c']);
      expect(await store().callLog.stats('calls-none')).toEqual([]);
    });

    it('stores nothing of a batch when one entry is rejected', async () => {
      await store().callLog.append([]);
      const entries = Array.from({ length: 600 }, (_, i) => ({
        server: 'calls-d',
        tool: 't',
        status: i === 599 ? ('bogus' as CallLogEntry['status']) : ('ok' as const),
        durationMs: 1,
        at: new Date(),
      }));
      // The bad row is in the second INSERT statement: the first must roll back with it.
      await expect(store().callLog.append(entries)).rejects.toThrow();
      expect(await store().callLog.stats('calls-d')).toEqual([]);
    });
  });
});
