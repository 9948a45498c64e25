import { randomBytes } from 'node:crypto';
import type { Bus } from '../bus/bus.ts';
import type { TaskChangedEvent, TaskLogEvent, TaskProgressEvent } from '../bus/events.ts';
import type { TaskStatus } from '../core/task-states.ts';

/** The topics a client may follow (`GET /api/events?topics=…`). */
export const FEED_TOPICS = ['tasks', 'task-logs', 'task-progress'] as const;
export type FeedTopic = (typeof FEED_TOPICS)[number];

/** The longest log text an item carries (UTF-8 bytes); the whole line is in `GET /api/tasks/<id>/log`. */
export const FEED_TEXT_BYTES = 4096;

/** How many items are kept for clients that resume (`Last-Event-ID`). */
export const FEED_CAPACITY = 10_000;

interface ItemBase {
  /** `<boot>-<seq>`: increasing within one process; resume after it with `Last-Event-ID`. */
  id: string;
  /** ISO 8601 time of the change. */
  at: string;
}

/** A task was created or changed status (`kind` is the new status). */
export interface TaskFeedItem extends ItemBase {
  topic: 'tasks';
  kind: TaskStatus;
  task: string;
  from: TaskStatus | null;
  assignee: string | null;
  workspace: string | null;
  parentId: string | null;
  taskType: string;
  attempts: number;
  reason: string | null;
}

/** Lines an executor wrote (stored; `text` cut at `FEED_TEXT_BYTES`, then `truncated: true`). */
export interface TaskLogFeedItem extends ItemBase {
  topic: 'task-logs';
  kind: 'log';
  task: string;
  attempt: number;
  stream: TaskLogEvent['stream'];
  text: string;
  truncated?: true;
}

/** Progress an executor or agent reported (not stored: only live and in the resume window). */
export interface TaskProgressFeedItem extends ItemBase {
  topic: 'task-progress';
  kind: 'progress';
  task: string;
  progress: number;
  total?: number;
  message?: string;
}

/**
 * The feed cannot resume from the `Last-Event-ID` asked for (another process's id, or one older
 * than the items kept): whatever the client shows may be stale, so it should read it again.
 * Sent whatever the topics; its `id` is the newest item's, so resuming after it misses nothing.
 */
export interface ResetFeedItem extends ItemBase {
  topic: 'feed';
  kind: 'reset';
  reason: 'unknown-id' | 'expired';
}

export type FeedItem = TaskFeedItem | TaskLogFeedItem | TaskProgressFeedItem;

/** Which items a client follows. */
export interface FeedFilter {
  topics: ReadonlySet<FeedTopic>;
  /** Only items of this task. */
  task?: string;
}

/**
 * The live feed behind `GET /api/events` and `/api/events/ws`: every task event of the bus as a
 * small item with an increasing id, the last `capacity` kept in a ring so that a client that
 * reconnects gets what it missed. Ids are `<boot>-<seq>`: `boot` is random per process, so an id
 * from another process (or from before a restart) is recognized, and answered with a reset item.
 */
export class EventFeed {
  readonly bootId: string;
  readonly #ring: Array<FeedItem | undefined>;
  #seq = 0;
  readonly #followers = new Set<{ filter: FeedFilter; send: (item: FeedItem) => void }>();
  readonly #unsubscribe: Array<() => void>;

  constructor(bus: Bus, options: { capacity?: number; bootId?: string } = {}) {
    const capacity = options.capacity ?? FEED_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity: ${capacity}`);
    this.bootId = options.bootId ?? randomBytes(6).toString('hex');
    this.#ring = new Array(capacity);
    this.#unsubscribe = [
      bus.subscribe('task.changed', (event) => this.#add(taskItem(event))),
      bus.subscribe('task.log', (event) => this.#add(logItem(event))),
      bus.subscribe('task.progress', (event) => this.#add(progressItem(event))),
    ];
  }

  /** The id of the newest item (`<boot>-0` before the first). */
  get lastId(): string {
    return `${this.bootId}-${this.#seq}`;
  }

  /**
   * Follows the feed: first, synchronously, the kept items after `lastEventId` that match (or a
   * reset item when it cannot resume from there), then every new matching item as it comes.
   * Without `lastEventId` only new items. Returns the function that stops following.
   */
  follow(
    filter: FeedFilter,
    lastEventId: string | undefined,
    send: (item: FeedItem | ResetFeedItem) => void,
  ): () => void {
    if (lastEventId !== undefined) {
      const after = this.#seqOf(lastEventId);
      const oldest = Math.max(1, this.#seq - this.#ring.length + 1);
      if (after === undefined) send(this.#reset('unknown-id'));
      else if (after + 1 < oldest) send(this.#reset('expired'));
      else {
        for (let seq = after + 1; seq <= this.#seq; seq++) {
          const item = this.#ring[seq % this.#ring.length];
          if (item && matches(filter, item)) send(item);
        }
      }
    }
    const follower = { filter, send };
    this.#followers.add(follower);
    return () => {
      this.#followers.delete(follower);
    };
  }

  /** How many clients follow the feed now. */
  get followers(): number {
    return this.#followers.size;
  }

  /** Stops listening to the bus and drops the followers. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#followers.clear();
  }

  #add(item: Omit<FeedItem, 'id'>): void {
    this.#seq += 1;
    const full = { id: `${this.bootId}-${this.#seq}`, ...item } as FeedItem;
    this.#ring[this.#seq % this.#ring.length] = full;
    for (const follower of this.#followers) {
      if (!matches(follower.filter, full)) continue;
      try {
        follower.send(full);
      } catch {
        // A follower that cannot take items (its connection broke) stops following; the others go on.
        this.#followers.delete(follower);
      }
    }
  }

  /** The sequence number of one of this process's ids, if it is one that was handed out. */
  #seqOf(id: string): number | undefined {
    const dash = id.lastIndexOf('-');
    if (dash < 0 || id.slice(0, dash) !== this.bootId) return undefined;
    const text = id.slice(dash + 1);
    if (!/^\d{1,15}$/.test(text)) return undefined;
    const seq = Number(text);
    return seq <= this.#seq ? seq : undefined;
  }

  #reset(reason: ResetFeedItem['reason']): ResetFeedItem {
    return { id: this.lastId, topic: 'feed', kind: 'reset', at: new Date().toISOString(), reason };
  }
}

function matches(filter: FeedFilter, item: FeedItem): boolean {
  return filter.topics.has(item.topic) && (filter.task === undefined || filter.task === item.task);
}

function taskItem(event: TaskChangedEvent): Omit<TaskFeedItem, 'id'> {
  return {
    topic: 'tasks',
    kind: event.status,
    at: event.at.toISOString(),
    task: event.id,
    from: event.from,
    assignee: event.assignee,
    workspace: event.workspace,
    parentId: event.parentId,
    taskType: event.taskType,
    attempts: event.attempts,
    reason: event.reason === null ? null : cut(event.reason).text,
  };
}

function logItem(event: TaskLogEvent): Omit<TaskLogFeedItem, 'id'> {
  const { text, truncated } = cut(event.text);
  return {
    topic: 'task-logs',
    kind: 'log',
    at: event.at.toISOString(),
    task: event.taskId,
    attempt: event.attempt,
    stream: event.stream,
    text,
    ...(truncated ? { truncated: true as const } : {}),
  };
}

function progressItem(event: TaskProgressEvent): Omit<TaskProgressFeedItem, 'id'> {
  return {
    topic: 'task-progress',
    kind: 'progress',
    at: event.at.toISOString(),
    task: event.taskId,
    progress: event.progress,
    ...(event.total === undefined ? {} : { total: event.total }),
    ...(event.message === undefined ? {} : { message: cut(event.message).text }),
  };
}

/** `text` cut to at most `FEED_TEXT_BYTES` UTF-8 bytes, on a character boundary. */
export function cut(text: string): { text: string; truncated: boolean } {
  // At most 3 bytes per UTF-16 unit: short text needs no encoding to know it fits.
  if (text.length * 3 <= FEED_TEXT_BYTES || Buffer.byteLength(text) <= FEED_TEXT_BYTES) {
    return { text, truncated: false };
  }
  // `stream: true` holds back a character cut in two instead of decoding it as U+FFFD.
  const head = new TextDecoder().decode(Buffer.from(text).subarray(0, FEED_TEXT_BYTES), { stream: true });
  return { text: head, truncated: true };
}
