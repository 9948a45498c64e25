import { describe, expect, it } from 'vitest';
import { toFrames } from '../../sdk/src/frames.ts';
import type { AgentSingleMessageInput } from '../../src/core/agent-protocol.ts';

describe('SDK: what an agent sends, as frames', () => {
  const heartbeat: AgentSingleMessageInput = { type: 'heartbeat' };
  const none = () => {
    throw new Error('nothing should be reported');
  };

  it('sends one message as itself and several as one batch', () => {
    expect(toFrames([heartbeat], 1024, none)).toEqual(['{"type":"heartbeat"}']);
    expect(toFrames([heartbeat, heartbeat], 1024, none)).toEqual([
      '{"type":"batch","messages":[{"type":"heartbeat"},{"type":"heartbeat"}]}',
    ]);
  });

  it('splits batches at the server limit', () => {
    const frames = toFrames(Array(40).fill(heartbeat), 64 + 200, none);
    expect(frames.length).toBeGreaterThan(1);
    for (const frame of frames) expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(264);
    const sent = frames.flatMap((f) =>
      f.startsWith('{"type":"batch"') ? JSON.parse(f).messages : [JSON.parse(f)],
    );
    expect(sent).toHaveLength(40);
  });

  it('turns a result too big to send into its task failure, and reports other messages it drops', () => {
    const reported: string[] = [];
    const frames = toFrames(
      [
        { type: 'result', taskId: 'tsk_1', output: 'x'.repeat(500) },
        { type: 'log', taskId: 'tsk_1', lines: [{ stream: 'info', text: 'y'.repeat(500) }] },
      ],
      64 + 300,
      (error) => reported.push(error.message),
    );
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0] as string)).toMatchObject({
      type: 'failure',
      taskId: 'tsk_1',
      error: { code: 'OUTPUT_NOT_SENDABLE' },
      retryable: false,
    });
    expect(reported).toEqual([expect.stringMatching(/^not sent: the log is \d+ bytes/)]);
  });
});
