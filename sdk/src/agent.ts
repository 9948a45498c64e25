import WebSocket from 'ws';
import {
  AGENT_CONNECT_PATH,
  type AgentSingleMessageInput,
  type HelloMessage,
  type RemoteTask,
  type ServerMessage,
  ServerMessageSchema,
} from '../../src/core/agent-protocol.ts';
import { toFrames } from './frames.ts';
import { httpBase, requestJson, ZiggieApiError } from './http.ts';
import { boundLogs, logBytes, OFFLINE_LOG_BYTES } from './offline-logs.ts';
import type { SubmitTaskInput, TaskJson, ToolResult } from './types.ts';

export type { RemoteTask } from '../../src/core/agent-protocol.ts';

const CLIENT = '@ziggie/sdk/0.1.0';
/** The longest log line the protocol takes (longer ones are cut). */
const MAX_LOG_TEXT = 100_000;

/** A subtask to delegate: any `POST /api/tasks` body but `parentId` (the current task). */
export type DelegateRequest = Omit<SubmitTaskInput, 'parentId'>;

/** What a handler gets besides its task. */
export interface TaskContext {
  /** Aborted when the task is cancelled (or its lease is lost, or the agent closes); `reason` says why. */
  readonly signal: AbortSignal;
  /** Reports progress to watchers (not stored). */
  progress(progress: number, total?: number, message?: string): void;
  /** Appends a line to the task's log. */
  log(text: string, stream?: 'stdout' | 'stderr' | 'info'): void;
  /** Calls a gateway tool (`<server>__<tool>`) as this agent (`POST /api/mcp/execute`). */
  callTool(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  /** Submits a subtask of this task (`POST /api/tasks` with `parentId`). */
  delegate(request: DelegateRequest): Promise<TaskJson>;
  /**
   * Hands this task over to its subtasks: it completes (or fails) when they do, by its
   * `childPolicy`, and is no longer this agent's; what the handler returns afterwards is ignored.
   */
  awaitSubtasks(): Promise<void>;
}

/** Does the work of one task: returns its output (or `withUsage(output, usage)`); throws to fail the attempt. */
export type TaskHandler = (task: RemoteTask, ctx: TaskContext) => unknown;

/** An output with the tokens and cost it took. */
export class TaskResult {
  readonly output: unknown;
  readonly usage: { inputTokens?: number; outputTokens?: number; cost?: number } | undefined;

  constructor(output: unknown, usage?: { inputTokens?: number; outputTokens?: number; cost?: number }) {
    this.output = output;
    this.usage = usage;
  }
}

/** Returns `output` and reports what it cost. */
export function withUsage(
  output: unknown,
  usage: { inputTokens?: number; outputTokens?: number; cost?: number },
): TaskResult {
  return new TaskResult(output, usage);
}

/** A failure with a code; `retryable: false` fails the task for good even with attempts left. */
export class TaskFailure extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(message: string, options: { code?: string; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TaskFailure';
    this.code = options.code ?? 'AGENT_ERROR';
    this.retryable = options.retryable ?? true;
  }
}

export interface ConnectAgentOptions {
  /** Ziggie's URL (`http://localhost:4000`; a `ws://` URL works too). */
  url: string;
  /** An agent API key (`zgk_…`) or an agent's access token. */
  token: string;
  handler: TaskHandler;
  /** Tasks run at once. Default: the agent's registry capacity. */
  concurrency?: number;
  /** Reconnect with backoff when the connection drops (default true). A refusal (401, 403, 400, 404) is final. */
  reconnect?: boolean;
  /** Errors the server reported and connection failures; default: `console.error`. */
  onError?: (error: Error) => void;
  /** First and longest wait between reconnects. Default 250 ms and 10 s. */
  backoff?: { initialMs: number; maxMs: number };
}

export interface AgentConnection {
  /** Resolves once the server said hello the first time; rejects when it refused the agent. */
  readonly connected: Promise<void>;
  /** The server's hello of the current connection. */
  readonly hello: HelloMessage | undefined;
  /** Stops: aborts running handlers (their tasks' leases run out and they are retried elsewhere) and closes. */
  close(): Promise<void>;
}

interface Running {
  readonly controller: AbortController;
  handedOver: boolean;
  awaiting?: { resolve: () => void; reject: (error: Error) => void };
}

/**
 * Connects a remote agent to Ziggie over the WebSocket (`GET /api/agents/connect`): receives its
 * tasks, runs `handler` for each (at most `concurrency` at once, the rest queued), and reports
 * results, failures, progress and logs, batched into one frame per tick. Heartbeats at the interval
 * the server's hello names; reconnects with backoff and keeps working on the tasks it holds (the
 * server takes them back when this node still holds their leases).
 */
export function connectAgent(options: ConnectAgentOptions): AgentConnection {
  return new AgentClient(options).connection;
}

class AgentClient {
  readonly connection: AgentConnection;
  readonly #options: ConnectAgentOptions;
  readonly #base: string;
  readonly #running = new Map<string, Running>();
  readonly #waiting: RemoteTask[] = [];
  #outbox: AgentSingleMessageInput[] = [];
  /** Log text queued while disconnected (see offline-logs.ts). */
  #offlineLogBytes = 0;
  #flushing = false;
  #socket: WebSocket | undefined;
  #hello: HelloMessage | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closing = false;
  #settle: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(options: ConnectAgentOptions) {
    this.#options = options;
    this.#base = httpBase(options.url);
    const connected = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // Handled here too: a caller that never awaits `connected` gets no unhandled rejection.
    connected.catch(() => {});
    const client = this;
    this.connection = {
      connected,
      get hello() {
        return client.#hello;
      },
      close: () => this.#close(),
    };
    this.#open();
  }

  #open(): void {
    const url = `${this.#base.replace(/^http/, 'ws')}${AGENT_CONNECT_PATH}`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.#options.token}` } });
    this.#socket = socket;
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => {
        const error = refusal(response.statusCode ?? 0, body);
        socket.terminate();
        if ([400, 401, 403, 404].includes(error.status)) this.#fatal(error);
        else this.#report(error);
      });
    });
    socket.on('error', (error) => this.#report(error));
    socket.on('message', (data) => this.#receive(data.toString()));
    socket.on('close', () => this.#closed(socket));
  }

  #receive(text: string): void {
    let parsed: ReturnType<typeof ServerMessageSchema.safeParse>;
    try {
      parsed = ServerMessageSchema.safeParse(JSON.parse(text));
    } catch (error) {
      this.#report(error as Error);
      return;
    }
    if (parsed.success) this.#handle(parsed.data);
    else this.#report(new Error(`unexpected message from Ziggie: ${parsed.error.message}`));
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case 'hello': {
        this.#hello = message;
        this.#attempt = 0;
        const held = [...this.#running].filter(([, r]) => !r.handedOver).map(([id]) => id);
        const ready: AgentSingleMessageInput = {
          type: 'ready',
          client: CLIENT,
          ...(this.#options.concurrency === undefined ? {} : { concurrency: this.#options.concurrency }),
          ...(held.length + this.#waiting.length > 0
            ? { held: [...held, ...this.#waiting.map((t) => t.id)] }
            : {}),
        };
        // `ready` goes first, before whatever waited for the connection.
        this.#outbox.unshift(ready);
        this.#flush();
        clearInterval(this.#heartbeat);
        this.#heartbeat = setInterval(() => {
          if (this.#running.size + this.#waiting.length > 0) this.#send({ type: 'heartbeat' });
        }, message.heartbeatMs);
        this.#heartbeat.unref();
        this.#settle?.resolve();
        return;
      }
      case 'tasks':
        for (const task of message.tasks) this.#waiting.push(task);
        this.#pump();
        return;
      case 'cancel': {
        const queued = this.#waiting.findIndex((t) => t.id === message.taskId);
        if (queued >= 0) this.#waiting.splice(queued, 1);
        this.#abort(message.taskId, `cancelled: ${message.reason}`);
        this.#pump();
        return;
      }
      case 'awaiting':
        this.#running.get(message.taskId)?.awaiting?.resolve();
        return;
      case 'error': {
        const error = new ZiggieApiError(0, message.code, message.message, {
          ...(message.about ? { about: message.about } : {}),
          ...(message.taskId ? { taskId: message.taskId } : {}),
          ...(message.details ?? {}),
        });
        const waiter = message.taskId ? this.#running.get(message.taskId)?.awaiting : undefined;
        if (message.about === 'await_subtasks' && waiter) waiter.reject(error);
        else this.#report(error);
        return;
      }
    }
  }

  /** Starts queued tasks while slots are free. */
  #pump(): void {
    const limit = this.#options.concurrency ?? this.#hello?.concurrency ?? 1;
    while (this.#waiting.length > 0 && this.#active() < limit) {
      const task = this.#waiting.shift();
      if (task) void this.#run(task);
    }
  }

  #active(): number {
    let n = 0;
    for (const running of this.#running.values()) if (!running.handedOver) n++;
    return n;
  }

  async #run(task: RemoteTask): Promise<void> {
    const running: Running = { controller: new AbortController(), handedOver: false };
    this.#running.set(task.id, running);
    const mine = () => this.#running.get(task.id) === running && !running.handedOver;
    try {
      const value = await this.#options.handler(task, this.#context(task, running));
      if (!mine()) return;
      const result = value instanceof TaskResult ? value : new TaskResult(value);
      this.#send({
        type: 'result',
        taskId: task.id,
        output: result.output ?? null,
        ...(result.usage ? { usage: result.usage } : {}),
      });
    } catch (error) {
      if (!mine()) return;
      const failure = error as Partial<TaskFailure> & { message?: string };
      this.#send({
        type: 'failure',
        taskId: task.id,
        error: {
          code: typeof failure.code === 'string' && failure.code ? failure.code.slice(0, 100) : 'AGENT_ERROR',
          message: (String(failure.message ?? error) || 'failed').slice(0, 10_000),
        },
        retryable: failure.retryable !== false,
      });
    } finally {
      if (this.#running.get(task.id) === running) this.#running.delete(task.id);
      this.#pump();
    }
  }

  #context(task: RemoteTask, running: Running): TaskContext {
    const signal = running.controller.signal;
    return {
      signal,
      progress: (progress, total, message) => {
        // Progress is for live watchers: not worth keeping while disconnected.
        if (!this.#hello || this.#socket?.readyState !== WebSocket.OPEN) return;
        this.#send({
          type: 'progress',
          taskId: task.id,
          progress,
          ...(total === undefined ? {} : { total }),
          ...(message === undefined ? {} : { message: message.slice(0, 1000) }),
        });
      },
      log: (text, stream = 'info') => {
        const line = { stream, text: text.length > MAX_LOG_TEXT ? text.slice(0, MAX_LOG_TEXT) : text };
        this.#boundOfflineLogs(line.text.length);
        const last = this.#outbox.at(-1);
        // Lines of one task written in one tick travel as one message (of bounded size).
        if (
          last?.type === 'log' &&
          last.taskId === task.id &&
          last.lines.length < 100 &&
          last.lines.reduce((n, l) => n + l.text.length, line.text.length) < 256 * 1024
        ) {
          last.lines.push(line);
          return;
        }
        this.#send({ type: 'log', taskId: task.id, lines: [line] });
      },
      callTool: async (name, args = {}) => {
        const answer = await requestJson<{ result: ToolResult }>(
          this.#base,
          this.#options.token,
          'POST',
          '/api/mcp/execute',
          { tool: name, arguments: args },
          signal,
        );
        return answer.result;
      },
      delegate: (request) =>
        requestJson<TaskJson>(
          this.#base,
          this.#options.token,
          'POST',
          '/api/tasks',
          { ...request, parentId: task.id },
          signal,
        ),
      awaitSubtasks: () =>
        new Promise<void>((resolve, reject) => {
          running.awaiting = {
            resolve: () => {
              running.handedOver = true;
              running.awaiting = undefined;
              this.#pump();
              resolve();
            },
            reject: (error) => {
              running.awaiting = undefined;
              reject(error);
            },
          };
          this.#send({ type: 'await_subtasks', taskId: task.id });
        }),
    };
  }

  #abort(taskId: string, reason: string): void {
    const running = this.#running.get(taskId);
    if (!running) return;
    this.#running.delete(taskId);
    const error = new Error(reason);
    error.name = 'AbortError';
    running.awaiting?.reject(error);
    running.controller.abort(error);
  }

  /**
   * While disconnected the outbox is all there is: past `OFFLINE_LOG_BYTES` of log text, the oldest
   * lines are dropped (down to half, so this runs rarely), never the results.
   */
  #boundOfflineLogs(adding: number): void {
    if (this.#hello && this.#socket?.readyState === WebSocket.OPEN) {
      this.#offlineLogBytes = 0;
      return;
    }
    this.#offlineLogBytes += adding;
    if (this.#offlineLogBytes <= OFFLINE_LOG_BYTES) return;
    this.#outbox = boundLogs(this.#outbox, OFFLINE_LOG_BYTES / 2);
    this.#offlineLogBytes = logBytes(this.#outbox) + adding;
  }

  #send(message: AgentSingleMessageInput): void {
    this.#outbox.push(message);
    if (this.#flushing) return;
    this.#flushing = true;
    // Everything sent in one tick leaves as one frame.
    setImmediate(() => {
      this.#flushing = false;
      this.#flush();
    });
  }

  /** Sends the outbox: one message as itself, several as `batch` frames no bigger than the server takes. */
  #flush(): void {
    const socket = this.#socket;
    const hello = this.#hello;
    if (!socket || socket.readyState !== WebSocket.OPEN || !hello || this.#outbox.length === 0) return;
    const messages = this.#outbox;
    this.#outbox = [];
    for (const frame of toFrames(messages, hello.maxMessageBytes, (error) => this.#report(error))) {
      socket.send(frame);
    }
  }

  #closed(socket: WebSocket): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    this.#hello = undefined;
    clearInterval(this.#heartbeat);
    // Waiting for the server's answer makes no sense any more.
    for (const running of this.#running.values()) {
      running.awaiting?.reject(new Error('the connection to Ziggie closed'));
    }
    if (this.#closing) return;
    if (this.#options.reconnect === false) {
      for (const id of [...this.#running.keys()]) this.#abort(id, 'the connection to Ziggie closed');
      this.#waiting.length = 0;
      return;
    }
    const { initialMs, maxMs } = this.#options.backoff ?? { initialMs: 250, maxMs: 10_000 };
    const delay = Math.min(maxMs, initialMs * 2 ** this.#attempt) * (0.5 + Math.random() / 2);
    this.#attempt++;
    this.#retry = setTimeout(() => this.#open(), delay);
  }

  #fatal(error: ZiggieApiError): void {
    this.#closing = true;
    this.#settle?.reject(error);
    this.#report(error);
  }

  #report(error: Error): void {
    if (this.#closing && !(error instanceof ZiggieApiError)) return;
    (this.#options.onError ?? ((e) => console.error(`ziggie agent: ${e.message}`)))(error);
  }

  async #close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retry);
    clearInterval(this.#heartbeat);
    for (const id of [...this.#running.keys()]) this.#abort(id, 'the agent is closing');
    this.#waiting.length = 0;
    this.#settle?.reject(new Error('closed before connecting'));
    const socket = this.#socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      if (socket.readyState === WebSocket.CONNECTING) return socket.terminate();
      socket.close(1000, 'agent closing');
      // A server that does not answer the close handshake is cut off (ws would wait 30 s).
      setTimeout(() => socket.terminate(), 1000).unref();
    });
  }
}

function refusal(status: number, body: string): ZiggieApiError {
  try {
    const { error } = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (error?.code && error.message) {
      return new ZiggieApiError(status, error.code, `Ziggie refused the agent connection: ${error.message}`);
    }
  } catch {
    // Not JSON.
  }
  return new ZiggieApiError(status, 'HTTP_ERROR', `Ziggie refused the agent connection: HTTP ${status}`);
}
