import { afterEach, describe, expect, it, vi } from 'vitest';
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
    // Held until its outcome reached the client; then a retry with its state is a replay.
    expect(registry.size).toBe(1);
    registry.finish(call);
    expect(registry.size).toBe(0);
    expect(() => registry.resume({ h: call.id, r: 2 }, 'me')).toThrow('Invalid or expired requestState');
  });

  it('delivers the outcome of an upstream call that ended between rounds on the next round, once', async () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 4 });
    let finishUpstream: (value: string) => void = () => {};
    const call = registry.start<string>('me', (held, signal) => {
      void held.ask('elicitation/create', { message: 'optional?' }, signal).catch(() => {});
      return new Promise<string>((resolve) => {
        finishUpstream = resolve;
      });
    });
    const round1 = await call.next(never);
    expect(round1.done).toBe(false);
    registry.park(call);
    // The upstream finishes without waiting for the answer (say, it gave up on it).
    finishUpstream('done anyway');
    await call.settled();
    expect(call.ended).toBe(true);
    const resumed = registry.resume<string>({ h: call.id, r: 1 }, 'me');
    resumed.answer(1, { 'elicitation-1': { action: 'decline' } });
    expect(await resumed.next(never)).toEqual({ done: true, result: 'done anyway' });
    registry.finish(resumed);
    expect(() => registry.resume({ h: call.id, r: 1 }, 'me')).toThrow('Invalid or expired requestState');
  });

  it('does not count calls that ended toward the per-identity bound', async () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 1 });
    const ended = registry.start('me', async () => 'quick');
    await ended.settled();
    expect(() => registry.start('me', () => new Promise<never>(() => {}))).not.toThrow();
    registry.cancelAll();
  });

  it('puts the requests a 2026 upstream sends together in one round, under the names it gave them', async () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 4 });
    const call = registry.start<unknown[]>('me', (held, signal) =>
      Promise.all([
        held.ask('elicitation/create', { message: 'name?' }, signal, 'user_name'),
        // A name already in use in the round is not reused.
        held.ask('sampling/createMessage', {}, signal, 'user_name'),
      ]),
    );
    const round = await call.next(never);
    expect(round).toEqual({
      done: false,
      requests: {
        user_name: { method: 'elicitation/create', params: { message: 'name?' } },
        'sampling-1': { method: 'sampling/createMessage', params: {} },
      },
    });
    call.answer(1, { user_name: { action: 'accept' }, 'sampling-1': { role: 'assistant' } });
    expect(await call.next(never)).toMatchObject({ done: true });
  });

  it("gathers a 2025 upstream's concurrent requests, which come one message at a time, in one round", async () => {
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 4 });
    const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const call = registry.start<unknown[]>('me', (held, signal) =>
      Promise.all([
        held.ask('elicitation/create', { message: 'name?' }, signal),
        later(1).then(() => held.ask('roots/list', undefined, signal)),
        later(2).then(() => held.ask('sampling/createMessage', {}, signal)),
      ]),
    );
    const round = await call.next(never);
    expect(round).toEqual({
      done: false,
      requests: {
        'elicitation-1': { method: 'elicitation/create', params: { message: 'name?' } },
        'roots-2': { method: 'roots/list' },
        'sampling-3': { method: 'sampling/createMessage', params: {} },
      },
    });
    call.answer(1, {
      'elicitation-1': { action: 'accept' },
      'roots-2': { roots: [] },
      'sampling-3': { role: 'assistant' },
    });
    expect(await call.next(never)).toMatchObject({ done: true });
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

describe('HeldCall rounds of a 2026 upstream', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("issues a 2026 upstream's named requests at once, without a 2025 upstream's quiet window", async () => {
    // Timers do not run unless advanced: a round that waited for the quiet window would never come.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const registry = new HeldCallRegistry({ ttlMs: 60_000, maxPerIdentity: 4 });
    const call = registry.start<string>('me', async (held, signal) => {
      // As the SDK client fulfils an input_required: every request handed over at once.
      const answers = await Promise.all([
        held.ask('elicitation/create', { message: 'name?' }, signal, 'name'),
        held.ask('sampling/createMessage', { messages: [] }, signal, 'llm'),
      ]);
      return JSON.stringify(answers);
    });
    expect(await call.next(never)).toEqual({
      done: false,
      requests: {
        name: { method: 'elicitation/create', params: { message: 'name?' } },
        llm: { method: 'sampling/createMessage', params: { messages: [] } },
      },
    });
    call.answer(1, { name: { action: 'accept' }, llm: { role: 'assistant' } });
    expect(await call.next(never)).toEqual({
      done: true,
      result: '[{"action":"accept"},{"role":"assistant"}]',
    });
    registry.finish(call);
  });
});
