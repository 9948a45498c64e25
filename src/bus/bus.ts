import type { ZiggieEvents } from './events.ts';

export type Handler<T> = (event: T) => void;

/**
 * The bus port: publish an event on a topic, subscribe to a topic. `publish` never throws and never
 * waits for subscribers; a subscriber that throws is reported through `onError` and the others
 * still get the event.
 */
export interface Bus<Events extends object = ZiggieEvents> {
  publish<K extends keyof Events>(topic: K, event: Events[K]): void;
  /** Returns the unsubscribe function. */
  subscribe<K extends keyof Events>(topic: K, handler: Handler<Events[K]>): () => void;
}
