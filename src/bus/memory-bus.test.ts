import { describe, expect, it } from 'vitest';
import { MemoryBus } from './memory-bus.ts';

interface Events {
  a: { n: number };
  b: string;
}

describe('MemoryBus', () => {
  it('delivers to the subscribers of a topic only, in order, until they unsubscribe', () => {
    const bus = new MemoryBus<Events>();
    const seen: string[] = [];
    const off1 = bus.subscribe('a', (e) => seen.push(`1:${e.n}`));
    bus.subscribe('a', (e) => seen.push(`2:${e.n}`));
    bus.subscribe('b', (e) => seen.push(`b:${e}`));
    bus.publish('a', { n: 1 });
    off1();
    bus.publish('a', { n: 2 });
    bus.publish('b', 'x');
    expect(seen).toEqual(['1:1', '2:1', '2:2', 'b:x']);
  });

  it('keeps delivering when a subscriber throws, and reports the error', () => {
    const errors: unknown[] = [];
    const bus = new MemoryBus<Events>({ onError: (error) => errors.push(error) });
    const seen: number[] = [];
    bus.subscribe('a', () => {
      throw new Error('boom');
    });
    bus.subscribe('a', (e) => seen.push(e.n));
    bus.publish('a', { n: 7 });
    expect(seen).toEqual([7]);
    expect(errors).toHaveLength(1);
  });
});
