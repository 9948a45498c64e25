import type { CallToolResult } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { HeldCall } from '../held-calls.ts';
import { LiveTask } from './live-task.ts';

const idle = () => new HeldCall<CallToolResult>('alice', () => new Promise<CallToolResult>(() => {}));
const ask = (message: string) => ({ method: 'elicitation/create' as const, params: { message } });

describe('LiveTask', () => {
  it('waits for every outstanding answer, ignoring answers to questions it did not ask', () => {
    const task = new LiveTask('t1', 'alice', 'srv__tool', idle(), 60_000);
    task.waitForInput({ 'elicitation-1': ask('a?'), 'elicitation-2': ask('b?') }, 1);
    expect(task.snapshot()).toMatchObject({
      status: 'input_required',
      statusMessage: "waiting for the client's input (elicitation/create)",
      inputRequests: { 'elicitation-1': ask('a?'), 'elicitation-2': ask('b?') },
    });
    expect(
      task.accept({ 'elicitation-1': { action: 'accept' }, stray: { action: 'decline' } }),
    ).toBeUndefined();
    expect(task.status).toBe('input_required');
    expect(task.accept({ 'elicitation-2': { action: 'cancel' } })).toEqual({
      'elicitation-1': { action: 'accept' },
      'elicitation-2': { action: 'cancel' },
    });
    task.resume();
    expect(task.snapshot()).not.toHaveProperty('inputRequests');
    expect(task.snapshot().status).toBe('working');
  });

  it('reports progress while working, and ends once', () => {
    const task = new LiveTask('t2', 'alice', 'srv__tool', idle(), null);
    expect(task.snapshot()).toMatchObject({ status: 'working', ttlMs: null });
    expect(task.snapshot()).not.toHaveProperty('statusMessage');
    task.progress = { progress: 3, total: 10, message: 'copying' };
    expect(task.snapshot().statusMessage).toBe('progress 3/10: copying');
    expect(task.end({ status: 'completed', result: { content: [] } })).toBeDefined();
    expect(task.end({ status: 'cancelled' })).toBeUndefined();
    expect(task.snapshot()).toMatchObject({ status: 'completed', result: { content: [] } });
    expect(task.snapshot()).not.toHaveProperty('statusMessage');
  });

  it('writes one after the other, and a failed write does not stop the next', async () => {
    const task = new LiveTask('t3', 'alice', 'srv__tool', idle(), 1_000);
    const order: number[] = [];
    const slow = task.write(() => new Promise((resolve) => setTimeout(() => resolve(order.push(1)), 20)));
    const failing = task.write(() => Promise.reject(new Error('disk full')));
    const last = task.write(async () => order.push(3));
    await expect(failing).rejects.toThrow('disk full');
    await Promise.all([slow, last, task.flushed()]);
    expect(order).toEqual([1, 3]);
  });
});
