import type { TaskStatus } from '../../src/core/task-states.ts';
import { apiError, httpBase, requestJson } from './http.ts';
import type { Page, SubmitTaskInput, TaskDetailJson, TaskJson } from './types.ts';

export interface ClientOptions {
  /** Ziggie's URL (`http://localhost:4000`). */
  url: string;
  /** An API key (`zgk_…`) or an access token. */
  token: string;
}

export interface TaskFilter {
  status?: TaskStatus;
  workspace?: string;
  assignee?: string;
  parentId?: string;
  limit?: number;
  cursor?: string;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Polling interval when the server has no event stream. Default 500 ms. */
  pollMs?: number;
}

export interface ZiggieClient {
  /** Submits a task (`POST /api/tasks`); the same `idempotencyKey` answers the first task again. */
  submit(task: SubmitTaskInput): Promise<TaskJson>;
  /** Submits up to 1,000 tasks at once, all or none (`POST /api/tasks/batch`); answers them in order. */
  submitMany(tasks: readonly SubmitTaskInput[]): Promise<TaskJson[]>;
  /** A task with its transitions and log. */
  get(id: string): Promise<TaskDetailJson>;
  /** Tasks, newest first. */
  list(filter?: TaskFilter): Promise<Page<TaskJson>>;
  cancel(id: string, reason?: string): Promise<TaskJson>;
  approve(id: string, feedback?: string): Promise<TaskJson>;
  reject(id: string, feedback: string): Promise<TaskJson>;
  /**
   * The task as it changes: yields it now and after every change, and ends once it is final
   * (COMPLETED, CANCELLED, or FAILED with no attempt left). Follows `GET /api/events?topics=tasks`
   * (Server-Sent Events, resumed after a drop); polls `GET /api/tasks/<id>` where that is missing.
   */
  watch(id: string, options?: WatchOptions): AsyncIterable<TaskDetailJson>;
}

/** A client of Ziggie's task API. */
export function createClient(options: ClientOptions): ZiggieClient {
  const base = httpBase(options.url);
  const call = <T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal) =>
    requestJson<T>(base, options.token, method, path, body, signal);
  const task = (id: string) => `/api/tasks/${encodeURIComponent(id)}`;
  const get = (id: string, signal?: AbortSignal) => call<TaskDetailJson>('GET', task(id), undefined, signal);

  return {
    submit: (input) => call('POST', '/api/tasks', input),
    submitMany: async (tasks) =>
      (await call<{ tasks: TaskJson[] }>('POST', '/api/tasks/batch', { tasks })).tasks,
    get: (id) => get(id),
    list: (filter = {}) => {
      const query = new URLSearchParams(
        Object.entries(filter)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, String(v)]),
      ).toString();
      return call('GET', `/api/tasks${query ? `?${query}` : ''}`);
    },
    cancel: (id, reason) => call('POST', `${task(id)}/cancel`, reason === undefined ? {} : { reason }),
    approve: (id, feedback) =>
      call('POST', `${task(id)}/approve`, feedback === undefined ? {} : { feedback }),
    reject: (id, feedback) => call('POST', `${task(id)}/reject`, { feedback }),
    watch: (id, watchOptions = {}) =>
      watchTask(base, options.token, id, (signal) => get(id, signal), watchOptions),
  };
}

/** Whether a task will not change any more. */
export function isFinal(task: Pick<TaskJson, 'status' | 'attempts' | 'maxAttempts'>): boolean {
  return (
    task.status === 'COMPLETED' ||
    task.status === 'CANCELLED' ||
    (task.status === 'FAILED' && task.attempts >= task.maxAttempts)
  );
}

async function* watchTask(
  base: string,
  token: string,
  id: string,
  get: (signal?: AbortSignal) => Promise<TaskDetailJson>,
  options: WatchOptions,
): AsyncGenerator<TaskDetailJson> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let lastEventId: string | undefined;
  let lastSeen = '';
  try {
    while (!signal.aborted) {
      const response = await fetch(`${base}/api/events?topics=tasks&task=${encodeURIComponent(id)}`, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        signal,
      }).catch((error) => {
        if (signal.aborted) return undefined;
        throw error;
      });
      if (!response) return;
      if (response.status === 404) {
        // No event stream on this server: poll.
        await response.body?.cancel();
        yield* pollTask(get, signal, options.pollMs ?? 500);
        return;
      }
      if (!response.ok || !response.body) throw await apiError(response, `GET /api/events (watching ${id})`);
      // Subscribed: read the task now, then again after each event about it.
      let task = await get(signal);
      if (task.updatedAt + task.status !== lastSeen) {
        lastSeen = task.updatedAt + task.status;
        yield task;
      }
      if (isFinal(task)) return;
      for await (const event of serverSentEvents(response.body)) {
        if (event.id) lastEventId = event.id;
        task = await get(signal);
        if (task.updatedAt + task.status !== lastSeen) {
          lastSeen = task.updatedAt + task.status;
          yield task;
        }
        if (isFinal(task)) return;
      }
      // The stream ended (the server restarted, a proxy cut it): resume after a pause.
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    controller.abort();
  }
}

async function* pollTask(
  get: (signal?: AbortSignal) => Promise<TaskDetailJson>,
  signal: AbortSignal,
  pollMs: number,
): AsyncGenerator<TaskDetailJson> {
  let lastSeen = '';
  while (!signal.aborted) {
    const task = await get(signal);
    if (task.updatedAt + task.status !== lastSeen) {
      lastSeen = task.updatedAt + task.status;
      yield task;
    }
    if (isFinal(task)) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The events of a `text/event-stream` body (`data` lines joined; comments skipped). */
async function* serverSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ id?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('id:')) id = line.slice(3).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { ...(id ? { id } : {}), data: data.join('\n') };
    }
  }
}
