import { describe, expect, it } from 'vitest';
import { boundLogs, logBytes } from '../../sdk/src/offline-logs.ts';
import type { AgentSingleMessageInput } from '../../src/core/agent-protocol.ts';

const log = (taskId: string, ...texts: string[]): AgentSingleMessageInput => ({
  type: 'log',
  taskId,
  lines: texts.map((text) => ({ stream: 'info', text })),
});

describe('SDK: log lines kept while an agent is disconnected', () => {
  it('leaves an outbox within the bound as it is', () => {
    const outbox = [log('a', 'x'.repeat(10)), { type: 'heartbeat' } as const];
    expect(boundLogs(outbox, 100)).toEqual(outbox);
  });

  it('drops the oldest lines first, keeps every other message, and notes the gap per task', () => {
    const result: AgentSingleMessageInput = { type: 'result', taskId: 'a', output: 1 };
    const outbox = [
      log('a', 'a1'.repeat(50), 'a2'.repeat(50)),
      log('b', 'b1'.repeat(50)),
      result,
      log('a', 'a3'.repeat(50)),
      log('b', 'b2'.repeat(50)),
    ];
    const bounded = boundLogs(outbox, 250);
    expect(bounded).toContainEqual(result);
    const lines = bounded.flatMap((m) =>
      m.type === 'log' ? m.lines.map((l) => `${m.taskId}:${l.text.slice(0, 2)}`) : [],
    );
    // 500 bytes of log, 250 allowed: a1, a2 and b1 (100 each) go; a's note comes before a3, b's before b2.
    expect(lines).toEqual(['a:[z', 'a:a3', 'b:[z', 'b:b2']);
    expect(JSON.stringify(bounded)).toContain('2 log lines dropped while disconnected');
    expect(JSON.stringify(bounded)).toContain('1 log lines dropped while disconnected');
    expect(logBytes(bounded.filter((m) => m.type === 'log'))).toBeLessThan(400);
  });

  it("notes the gap in a message of its own when none of the task's lines are left", () => {
    const bounded = boundLogs([log('a', 'x'.repeat(100)), log('b', 'y'.repeat(10))], 50);
    expect(bounded).toEqual([
      log('b', 'y'.repeat(10)),
      log('a', '[ziggie sdk] 1 log lines dropped while disconnected'),
    ]);
  });
});
