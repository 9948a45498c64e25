import type { Bus, Handler } from './bus.ts';
import type { ZiggieEvents } from './events.ts';

/**
 * The in-process bus (embedded mode): synchronous delivery to the subscribers of a topic, in
 * subscription order. Handlers must be quick (hand long work to a queue of their own).
 */
export class MemoryBus<Events extends object = ZiggieEvents> implements Bus<Events> {
  readonly #handlers = new Map<keyof Events, Set<Handler<never>>>();
  readonly #onError: (error: unknown, topic: keyof Events) => void;

  constructor(options: { onError?: (error: unknown, topic: keyof Events) => void } = {}) {
    this.#onError = options.onError ?? ((error) => queueMicrotask(() => Promise.reject(error)));
  }

  publish<K extends keyof Events>(topic: K, event: Events[K]): void {
    const handlers = this.#handlers.get(topic);
    if (!handlers) return;
    for (const handler of handlers) {
      try {
        (handler as Handler<Events[K]>)(event);
      } catch (error) {
        this.#onError(error, topic);
      }
    }
  }

  subscribe<K extends keyof Events>(topic: K, handler: Handler<Events[K]>): () => void {
    let handlers = this.#handlers.get(topic);
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(topic, handlers);
    }
    handlers.add(handler as Handler<never>);
    return () => {
      handlers.delete(handler as Handler<never>);
    };
  }
}
