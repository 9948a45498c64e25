import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { forEachDialect } from '../store/test-stores.ts';
import { Metrics } from '../telemetry/metrics.ts';
import { CallRecorder } from './call-recorder.ts';

const silent = pino({ level: 'silent' });

describe('call recorder', () => {
  forEachDialect(({ store }) => {
    it('writes a batch of calls to the call log and the audit log in one transaction', async () => {
      const transaction = vi.spyOn(store(), 'transaction');
      const recorder = new CallRecorder(new Metrics(), store(), silent);
      recorder.record('rec-a', 'read', 'ok', 1.5, { actor: { type: 'agent', id: 'qa-1' }, ip: '10.1.2.3' });
      recorder.record('rec-a', 'write', 'error', 2);
      recorder.record('rec-a', 'write', 'failed', 30_000.25);
      await recorder.flush();
      expect(transaction).toHaveBeenCalledTimes(1);
      transaction.mockRestore();

      const stats = await store().callLog.stats('rec-a');
      expect(stats.map((s) => [s.tool, s.calls, s.errors])).toEqual([
        ['read', 1, 0],
        ['write', 2, 2],
      ]);
      const { items } = await store().audit.list({ actions: ['TOOL_CALLED'] }, { limit: 10 });
      expect(
        items.map((e) => [
          e.actor.type,
          e.actor.id,
          e.entityId,
          e.outcome,
          e.durationMs,
          e.ip,
          e.metadataJson,
        ]),
      ).toEqual([
        [
          'system',
          'ziggie',
          'rec-a/write',
          'failure',
          30_000.25,
          null,
          '{"server":"rec-a","tool":"write","status":"failed"}',
        ],
        [
          'system',
          'ziggie',
          'rec-a/write',
          'failure',
          2,
          null,
          '{"server":"rec-a","tool":"write","status":"error"}',
        ],
        [
          'agent',
          'qa-1',
          'rec-a/read',
          'success',
          1.5,
          '10.1.2.3',
          '{"server":"rec-a","tool":"read","status":"ok"}',
        ],
      ]);
    });

    it('does not touch the database until the batch is due', async () => {
      const transaction = vi.spyOn(store(), 'transaction');
      const recorder = new CallRecorder(new Metrics(), store(), silent);
      recorder.record('rec-b', 'x', 'ok', 1);
      expect(transaction).not.toHaveBeenCalled();
      await recorder.flush();
      expect(transaction).toHaveBeenCalledTimes(1);
      transaction.mockRestore();
    });
  });
});
