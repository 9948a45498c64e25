import type { Logger } from 'pino';

/** One resource subscription made upstream: the link it was made on, and what undoes it. */
export interface UpstreamResourceSubscription {
  link: number;
  close(): Promise<void>;
}

/** How the connection makes subscriptions and which link is current. */
export interface ResourceSubscriber {
  /** Makes one resource subscription on the current link (connecting first if need be). */
  open(uri: string): Promise<UpstreamResourceSubscription>;
  /** The current link's number; a subscription made on another one is gone. */
  link(): number;
}

interface Hold {
  /** Downstream subscribers holding the URI. */
  holders: number;
  /** Settles when the upstream subscription is made (or failed). */
  ready: Promise<void>;
  made: UpstreamResourceSubscription | undefined;
}

/**
 * The resource subscriptions one upstream holds for its downstream subscribers: one upstream
 * subscription per URI however many subscribers share it, made by the first and ended by the last,
 * and made again on a new link after a reconnect. The subscribes and unsubscribes of one URI run
 * one after the other, so a quick unsubscribe/subscribe never leaves the upstream unsubscribed.
 */
export class ResourceHolds {
  readonly #holds = new Map<string, Hold>();
  /** The last subscribe/unsubscribe queued for each URI. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #subscriber: ResourceSubscriber;
  readonly #log: Logger;

  constructor(subscriber: ResourceSubscriber, log: Logger) {
    this.#subscriber = subscriber;
    this.#log = log;
  }

  uris(): string[] {
    return [...this.#holds.keys()];
  }

  async acquire(uri: string): Promise<void> {
    let hold = this.#holds.get(uri);
    if (!hold) {
      const created: Hold = { holders: 0, ready: Promise.resolve(), made: undefined };
      created.ready = this.#establish(uri, created);
      this.#holds.set(uri, created);
      hold = created;
    }
    hold.holders++;
    try {
      await hold.ready;
    } catch (error) {
      await this.release(uri, hold);
      throw error;
    }
  }

  async release(uri: string, expected?: Hold): Promise<void> {
    const hold = this.#holds.get(uri);
    if (!hold || (expected && hold !== expected)) return;
    if (--hold.holders > 0) return;
    this.#holds.delete(uri);
    await this.#queue(uri, async () => {
      const made = hold.made;
      hold.made = undefined;
      // A subscription of a link that is gone went with it.
      if (made && made.link === this.#subscriber.link()) await made.close();
    }).catch((error: unknown) => {
      // The subscriber is released either way.
      this.#log.debug({ err: error, uri }, 'could not end an upstream resource subscription');
    });
  }

  /** A new link is up: what was subscribed on the old one is subscribed again. */
  reestablish(): void {
    for (const [uri, hold] of this.#holds) {
      hold.ready = this.#establish(uri, hold);
      hold.ready.catch((error: unknown) => {
        this.#log.warn({ err: error, uri }, 'could not subscribe to an upstream resource again');
      });
    }
  }

  #establish(uri: string, hold: Hold): Promise<void> {
    return this.#queue(uri, async () => {
      // Made on the current link already (a subscribe that waited for the connect).
      if (hold.made && hold.made.link === this.#subscriber.link()) return;
      hold.made = await this.#subscriber.open(uri);
    });
  }

  #queue(uri: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(uri) ?? Promise.resolve();
    const next = previous.then(fn);
    const settled = next.catch(() => {});
    this.#queues.set(uri, settled);
    void settled.then(() => {
      if (this.#queues.get(uri) === settled) this.#queues.delete(uri);
    });
    return next;
  }
}
