import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ResourceHolds } from './resource-holds.ts';

/** A fake upstream that records what it was asked, in order, and can be made to fail or wait. */
function fakeUpstream() {
  const log: string[] = [];
  const state = { link: 1, fail: false, gate: undefined as Promise<void> | undefined };
  const holds = new ResourceHolds(
    {
      link: () => state.link,
      open: async (uri) => {
        const link = state.link;
        log.push(`open ${uri} @${link}`);
        await state.gate;
        if (state.fail) throw new Error('refused');
        return {
          link,
          close: async () => {
            log.push(`close ${uri} @${link}`);
          },
        };
      },
    },
    pino({ level: 'silent' }),
  );
  return { holds, log, state };
}

describe('ResourceHolds', () => {
  it('subscribes once per URI for all holders and unsubscribes with the last one', async () => {
    const { holds, log } = fakeUpstream();
    await Promise.all([holds.acquire('a'), holds.acquire('a')]);
    await holds.acquire('b');
    expect(holds.uris()).toEqual(['a', 'b']);
    await holds.release('a');
    expect(log).toEqual(['open a @1', 'open b @1']);
    await holds.release('a');
    await holds.release('b');
    expect(log).toEqual(['open a @1', 'open b @1', 'close a @1', 'close b @1']);
    expect(holds.uris()).toEqual([]);
    // Releasing what is not held does nothing.
    await holds.release('a');
    expect(log).toHaveLength(4);
  });

  it('fails every waiting holder when the upstream refuses, and tries again for the next one', async () => {
    const { holds, log, state } = fakeUpstream();
    state.fail = true;
    const results = await Promise.allSettled([holds.acquire('a'), holds.acquire('a')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(holds.uris()).toEqual([]);
    state.fail = false;
    await holds.acquire('a');
    expect(log).toEqual(['open a @1', 'open a @1']);
  });

  it('runs a quick unsubscribe and subscribe in order, leaving the upstream subscribed', async () => {
    const { holds, log, state } = fakeUpstream();
    let open!: () => void;
    state.gate = new Promise((resolve) => {
      open = resolve;
    });
    const first = holds.acquire('a');
    const released = holds.release('a');
    const second = holds.acquire('a');
    open();
    await Promise.all([first.catch(() => {}), released, second]);
    expect(log).toEqual(['open a @1', 'close a @1', 'open a @1']);
    expect(holds.uris()).toEqual(['a']);
  });

  it('subscribes again on a new link, and never unsubscribes on a link that is gone', async () => {
    const { holds, log, state } = fakeUpstream();
    await holds.acquire('a');
    state.link = 2;
    holds.reestablish();
    // A reestablish for a subscription already made on the current link does nothing.
    holds.reestablish();
    await holds.acquire('a');
    expect(log).toEqual(['open a @1', 'open a @2']);
    state.link = 3;
    await holds.release('a');
    await holds.release('a');
    expect(log).toEqual(['open a @1', 'open a @2']);
  });
});
