import { describe, expect, it } from 'vitest';
import { HeldCallRegistry } from './held-calls.ts';

const never = new AbortController().signal;

describe('HeldCallRegistry', () => {
  it('issues the upstream questions as one round and hands the answers back', async () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 4 });
    const call = registry.start<string>('me', async (held, signal) => {
      const a = await held.ask('elicitation/create', { message: 'first?' }, signal);
      const b = await held.ask('roots/list', undefined, signal);
      return `${JSON.stringify(a)} ${JSON.stringify(b)}`;
    });
    const round1 = await call.next(never);
    expect(round1).toEqual({
      done: false,
      requests: { 'elicitation-1': { method: 'elicitation/create', params: { message: 'first?' } } },
    });
    call.answer(1, { 'elicitation-1': { action: 'accept' } });
    const round2 = await call.next(never);
    expect(round2).toEqual({ done: false, requests: { 'roots-2': { method: 'roots/list' } } });
    expect(() => call.answer(1, { 'roots-2': { roots: [] } })).toThrow('Invalid or expired requestState');
    call.answer(2, { 'roots-2': { roots: [] } });
    expect(await call.next(never)).toEqual({ done: true, result: '{"action":"accept"} {"roots":[]}' });
    await call.settled();
    expect(registry.size).toBe(0);
  });

  it('refuses answers to questions never asked, and missing answers', async () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 4 });
    const call = registry.start('me', (held, signal) => held.ask('sampling/createMessage', {}, signal));
    await call.next(never);
    expect(() => call.answer(1, { other: {} })).toThrow(/never made: other/);
    expect(() => call.answer(1, {})).toThrow(/lack answers for: sampling-1/);
    call.cancel();
  });

  it('bounds the calls one identity holds, and not another identity', () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 1 });
    const hold = () => new Promise<never>(() => {});
    registry.start('me', hold);
    expect(() => registry.start('me', hold)).toThrow(/at most 1/);
    expect(() => registry.start('you', hold)).not.toThrow();
    registry.cancelAll();
  });

  it('cancels the upstream call when parked past its TTL, and forgets it', async () => {
    const registry = new HeldCallRegistry({ ttlMs: 20, maxPerIdentity: 4 });
    let aborted = false;
    const call = registry.start('me', (held, signal) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      return held.ask('elicitation/create', {}, signal);
    });
    await call.next(never);
    registry.park(call);
    await call.settled();
    expect(aborted).toBe(true);
    expect(() => registry.resume({ h: call.id, r: 1 }, 'me')).toThrow('Invalid or expired requestState');
  });

  it('cancels the upstream call when the waiting client goes away', async () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 4 });
    const client = new AbortController();
    let upstreamSignal: AbortSignal | undefined;
    const call = registry.start('me', (_held, signal) => {
      upstreamSignal = signal;
      return new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    const waiting = call.next(client.signal);
    client.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    expect(upstreamSignal?.aborted).toBe(true);
  });
});
