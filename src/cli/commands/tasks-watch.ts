import type { Command } from 'commander';
import { ZiggieError } from '../../core/errors.ts';
import type { ApiClient } from '../api-client.ts';
import { type EventStreamReader, readEventStream } from '../event-stream.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

/** Exit codes of `tasks watch` for a task that ended otherwise than COMPLETED. */
export const WATCH_EXIT = { FAILED: 2, CANCELLED: 3 } as const;

/** How often, and how far apart, `tasks watch` tries to get its stream back after it broke. */
const RECONNECTS = 5;
const RECONNECT_DELAY_MS = 1000;

interface WatchedTask {
  id: string;
  taskType: string;
  status: string;
  assignee: string | null;
  workspace: string | null;
  parentId: string | null;
  attempts: number;
  maxAttempts: number;
  output: unknown;
  error: { code?: string; message: string } | null;
  updatedAt: string;
  transitions: Array<{ to: string; reason: string | null; at: string }>;
}

// biome-ignore lint/suspicious/noExplicitAny: feed items are JSON from the server, printed field by field
type FeedItem = Record<string, any>;

/** `ziggie tasks watch <id>`: the task's status, then its changes, log lines and progress as they happen. */
export function registerTasksWatch(tasks: Command): void {
  remoteOptions(
    tasks
      .command('watch <id>')
      .description(
        'follow a task live until it finishes: status changes, log lines, progress (exit 0 when it completes)',
      ),
  ).action((id: string, flags: RemoteFlags) => watch(clientFor(flags), id, Boolean(flags.json)));
}

async function watch(client: ApiClient, id: string, json: boolean): Promise<void> {
  const out = new WatchOutput(json);
  const path = (after?: string) =>
    `/api/events?topics=tasks,task-logs,task-progress&task=${encodeURIComponent(id)}${
      after === undefined ? '' : `&lastEventId=${encodeURIComponent(after)}`
    }`;
  const read = () => client.get<WatchedTask>(`/api/tasks/${encodeURIComponent(id)}`);
  // The stream first, then the status: a change in between is on the stream, not lost.
  let stream: EventStreamReader = readEventStream(await client.download(path()));
  try {
    let task = await read();
    // Changes the status already shows, arriving on the stream too: not printed twice.
    const known = new Set(task.transitions.map((t) => `${t.to}|${new Date(t.at).toISOString()}`));
    out.snapshot(task);
    if (isOver(task)) return out.finish(task);
    let lastId: string | undefined;
    for (;;) {
      for await (const event of stream.events()) {
        if (event.id !== undefined) lastId = event.id;
        const item = JSON.parse(event.data) as FeedItem;
        if (item.topic === 'feed' && item.kind === 'reset') {
          // The server cannot say what was missed (it restarted): read the task again.
          const now = await read();
          if (now.status !== task.status) out.snapshot(now);
          task = now;
          if (isOver(task)) return out.finish(task);
          continue;
        }
        if (item.topic === 'tasks' && known.has(`${item.kind}|${item.at}`)) continue;
        out.item(item);
        if (item.topic !== 'tasks') continue;
        // A FAILED task may be retried (ASSIGNED again, in the same commit): the task says which.
        if (item.kind === 'COMPLETED' || item.kind === 'CANCELLED' || item.kind === 'FAILED') {
          task = await read();
          if (isOver(task)) return out.finish(task);
        }
      }
      // The stream ended (Ziggie restarting, a proxy timing out): resume after the last item.
      await stream.close();
      stream = await reconnect(client, path(lastId));
      if (lastId === undefined) {
        const now = await read();
        if (now.status !== task.status) out.snapshot(now);
        task = now;
        if (isOver(task)) return out.finish(task);
      }
    }
  } finally {
    await stream.close();
    out.done();
  }
}

async function reconnect(client: ApiClient, path: string): Promise<EventStreamReader> {
  for (let attempt = 1; ; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
    try {
      return readEventStream(await client.download(path));
    } catch (error) {
      if (attempt >= RECONNECTS || !(error instanceof ZiggieError) || error.code !== 'GATEWAY_UNREACHABLE') {
        throw error;
      }
    }
  }
}

/** COMPLETED, CANCELLED, or FAILED for good (a retried task is ASSIGNED again by the time it is read). */
function isOver(task: WatchedTask): boolean {
  return task.status === 'COMPLETED' || task.status === 'CANCELLED' || task.status === 'FAILED';
}

function clock(at: string): string {
  const time = new Date(at);
  return Number.isNaN(time.getTime()) ? at : time.toTimeString().slice(0, 8);
}

/** What `tasks watch` prints: lines for people (a progress bar on a terminal), or one JSON item a line. */
class WatchOutput {
  readonly #json: boolean;
  readonly #tty = Boolean(process.stdout.isTTY);
  #bar = false;

  constructor(json: boolean) {
    this.#json = json;
  }

  /** The task as it is now (first, and after the server lost track). */
  snapshot(task: WatchedTask): void {
    if (this.#json) {
      this.#line(
        JSON.stringify({
          id: null,
          topic: 'tasks',
          kind: task.status,
          at: task.updatedAt,
          task: task.id,
          assignee: task.assignee,
          workspace: task.workspace,
          parentId: task.parentId,
          taskType: task.taskType,
          attempts: task.attempts,
          snapshot: true,
        }),
      );
      return;
    }
    const assignee = task.assignee ? `, assignee ${task.assignee}` : '';
    this.#line(
      `${task.id} (${task.taskType}): ${task.status}${assignee}, attempt ${task.attempts}/${task.maxAttempts}`,
    );
  }

  item(item: FeedItem): void {
    const time = clock(String(item.at));
    if (this.#json) {
      this.#line(JSON.stringify(item));
    } else if (item.topic === 'tasks') {
      const who = item.kind === 'ASSIGNED' && item.assignee ? ` (${item.assignee})` : '';
      const reason = item.reason ? `: ${item.reason}` : '';
      this.#line(`${time}  ${item.from ?? '-'} → ${item.kind}${who}${reason}`);
    } else if (item.topic === 'task-logs') {
      const lines = String(item.text).replace(/\n$/, '').split('\n');
      if (item.truncated) lines[lines.length - 1] += ' …';
      for (const line of lines) this.#line(`${time}  [${item.stream}] ${line}`);
    } else if (item.topic === 'task-progress') {
      this.#progress(time, item);
    }
  }

  /** `progress 3/10 message`; on a terminal, a bar redrawn in place. */
  #progress(time: string, item: FeedItem): void {
    const of = item.total === undefined ? '' : `/${item.total}`;
    const message = item.message ? ` ${item.message}` : '';
    if (!this.#tty) {
      this.#line(`${time}  progress ${item.progress}${of}${message}`);
    } else {
      const share = item.total > 0 ? Math.max(0, Math.min(1, item.progress / item.total)) : 0;
      const filled = Math.round(share * 20);
      const bar = item.total > 0 ? `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ` : '';
      process.stdout.write(`\r\x1b[K${time}  progress ${bar}${item.progress}${of}${message}`);
      this.#bar = true;
    }
  }

  /** The end: the output of a completed task; the error (stderr) and exit code of the others. */
  finish(task: WatchedTask): void {
    if (task.status === 'COMPLETED') {
      if (!this.#json && task.output !== null && task.output !== undefined) {
        this.#line(`output: ${JSON.stringify(task.output)}`);
      }
      return;
    }
    this.done();
    const last = task.transitions.at(-1);
    const why =
      task.status === 'FAILED' && task.error
        ? `${task.error.code ? `${task.error.code}: ` : ''}${task.error.message}`
        : (last?.reason ?? task.error?.message ?? 'no reason given');
    process.stderr.write(`task ${task.id} ${task.status}: ${why}\n`);
    process.exitCode = task.status === 'FAILED' ? WATCH_EXIT.FAILED : WATCH_EXIT.CANCELLED;
  }

  /** Ends a progress bar left on the terminal. */
  done(): void {
    if (this.#bar) process.stdout.write('\n');
    this.#bar = false;
  }

  #line(text: string): void {
    if (this.#bar) process.stdout.write('\r\x1b[K');
    this.#bar = false;
    process.stdout.write(`${text}\n`);
  }
}
