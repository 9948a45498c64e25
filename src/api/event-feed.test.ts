import { describe, expect, it } from 'vitest';
import type { TaskChangedEvent } from '../bus/events.ts';
import { MemoryBus } from '../bus/memory-bus.ts';
import {
  cut,
  EventFeed,
  FEED_TEXT_BYTES,
  type FeedFilter,
  type FeedItem,
  type ResetFeedItem,
} from './event-feed.ts';

const AT = new Date('2031-01-01T00:00:00.000Z');
const ALL: FeedFilter = { topics: new Set(['tasks', 'task-logs', 'task-progress']) };

function changed(
  id: string,
  status: TaskChangedEvent['status'],
  from: TaskChangedEvent['from'],
): TaskChangedEvent {
  return {
    id,
    status,
    from,
    assignee: 'dev',
    workspace: 'studio',
    parentId: null,
    taskType: 'codegen',
    attempts: 1,
    reason: null,
    at: AT,
  };
}

function setup(capacity?: number) {
  const bus = new MemoryBus();
  const feed = new EventFeed(bus, { bootId: 'boot1', ...(capacity ? { capacity } : {}) });
  const seen: Array<FeedItem | ResetFeedItem> = [];
  return { bus, feed, seen, push: (item: FeedItem | ResetFeedItem) => seen.push(item) };
}

describe('EventFeed', () => {
  it('turns task events into small items with increasing ids', () => {
    const { bus, feed, seen, push } = setup();
    feed.follow(ALL, undefined, push);
    bus.publish('task.changed', { ...changed('t1', 'ASSIGNED', 'PENDING'), reason: 'by hand' });
    bus.publish('task.log', { taskId: 't1', attempt: 1, stream: 'stdout', text: 'hello', at: AT });
    bus.publish('task.progress', { taskId: 't1', progress: 3, total: 10, message: 'copying', at: AT });
    bus.publish('task.progress', { taskId: 't1', progress: 4, at: AT });
    expect(seen).toEqual([
      {
        id: 'boot1-1',
        topic: 'tasks',
        kind: 'ASSIGNED',
        at: AT.toISOString(),
        task: 't1',
        from: 'PENDING',
        assignee: 'dev',
        workspace: 'studio',
        parentId: null,
        taskType: 'codegen',
        attempts: 1,
        reason: 'by hand',
      },
      {
        id: 'boot1-2',
        topic: 'task-logs',
        kind: 'log',
        at: AT.toISOString(),
        task: 't1',
        attempt: 1,
        stream: 'stdout',
        text: 'hello',
      },
      {
        id: 'boot1-3',
        topic: 'task-progress',
        kind: 'progress',
        at: AT.toISOString(),
        task: 't1',
        progress: 3,
        total: 10,
        message: 'copying',
      },
      {
        id: 'boot1-4',
        topic: 'task-progress',
        kind: 'progress',
        at: AT.toISOString(),
        task: 't1',
        progress: 4,
      },
    ]);
    expect(feed.lastId).toBe('boot1-4');
  });

  it('filters by topics and by task', () => {
    const { bus, feed, seen, push } = setup();
    feed.follow({ topics: new Set(['tasks']), task: 't2' }, undefined, push);
    bus.publish('task.changed', changed('t1', 'PENDING', null));
    bus.publish('task.changed', changed('t2', 'PENDING', null));
    bus.publish('task.log', { taskId: 't2', attempt: 1, stream: 'stderr', text: 'x', at: AT });
    bus.publish('task.changed', changed('t2', 'CANCELLED', 'PENDING'));
    expect(seen.map((item) => `${item.id} ${item.kind}`)).toEqual(['boot1-2 PENDING', 'boot1-4 CANCELLED']);
  });

  it('replays the kept items after a Last-Event-ID, then goes on live, and stops when asked', () => {
    const { bus, feed, seen, push } = setup();
    for (const id of ['a', 'b', 'c']) bus.publish('task.changed', changed(id, 'PENDING', null));
    const stop = feed.follow({ topics: new Set(['tasks']) }, 'boot1-1', push);
    expect(seen.map((item) => item.id)).toEqual(['boot1-2', 'boot1-3']);
    bus.publish('task.changed', changed('d', 'PENDING', null));
    expect(seen.map((item) => item.id)).toEqual(['boot1-2', 'boot1-3', 'boot1-4']);
    expect(feed.followers).toBe(1);
    stop();
    bus.publish('task.changed', changed('e', 'PENDING', null));
    expect(seen).toHaveLength(3);
    expect(feed.followers).toBe(0);
    // The newest id: nothing to replay.
    const again: unknown[] = [];
    feed.follow(ALL, feed.lastId, (item) => again.push(item));
    expect(again).toEqual([]);
  });

  it('answers an id it cannot resume from with a reset item (another process, the future, garbage, too old)', () => {
    const { bus, feed } = setup(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) bus.publish('task.changed', changed(id, 'PENDING', null));
    const first = (lastEventId: string) => {
      const seen: Array<FeedItem | ResetFeedItem> = [];
      feed.follow(ALL, lastEventId, (item) => seen.push(item));
      return seen;
    };
    for (const id of ['other-3', 'boot1-99', 'boot1-x', 'boot1', '']) {
      expect(first(id), id).toEqual([
        { id: 'boot1-5', topic: 'feed', kind: 'reset', at: expect.any(String), reason: 'unknown-id' },
      ]);
    }
    // Items 3, 4 and 5 are kept: resuming after 2 loses nothing, after 1 it would.
    expect(first('boot1-2').map((item) => item.id)).toEqual(['boot1-3', 'boot1-4', 'boot1-5']);
    expect(first('boot1-1')).toEqual([expect.objectContaining({ kind: 'reset', reason: 'expired' })]);
  });

  it('cuts long log text at 4 KiB on a character boundary, and stops following for a follower that throws', () => {
    const { bus, feed, seen, push } = setup();
    feed.follow(ALL, undefined, () => {
      throw new Error('connection gone');
    });
    feed.follow(ALL, undefined, push);
    const long = `${'a'.repeat(FEED_TEXT_BYTES - 1)}é and more`;
    bus.publish('task.log', { taskId: 't', attempt: 1, stream: 'stdout', text: long, at: AT });
    expect(seen[0]).toMatchObject({ text: 'a'.repeat(FEED_TEXT_BYTES - 1), truncated: true });
    expect(feed.followers).toBe(1);
    expect(cut('héllo')).toEqual({ text: 'héllo', truncated: false });
    expect(Buffer.byteLength(cut('€'.repeat(2000)).text)).toBe(4095);
  });

  it('stops listening to the bus when closed', () => {
    const { bus, feed, seen, push } = setup();
    feed.follow(ALL, undefined, push);
    feed.close();
    bus.publish('task.changed', changed('a', 'PENDING', null));
    expect(seen).toEqual([]);
    expect(feed.lastId).toBe('boot1-0');
  });
});
