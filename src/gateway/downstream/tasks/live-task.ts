import type { CallToolResult } from '@modelcontextprotocol/server';
import type { McpTask, McpTaskChange, McpTaskError, McpTaskStatus } from '../../../store/types.ts';
import type { HeldCall, InputRequestWire } from '../held-calls.ts';

/** A task as the gateway reports it, whatever the client's wire (task-wire.ts makes that). */
export interface TaskSnapshot {
  id: string;
  status: McpTaskStatus;
  statusMessage?: string;
  createdAt: Date;
  updatedAt: Date;
  /** Time to live from creation (ms); null: kept until deleted. */
  ttlMs: number | null;
  /** Input the task waits for (`input_required`), keyed as the answers must be. */
  inputRequests?: Record<string, InputRequestWire>;
  result?: Record<string, unknown>;
  error?: McpTaskError;
}

interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

/** Whether a status is final. */
export function isTerminal(status: McpTaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** A stored task seen from outside this process, or after its run ended. */
export function snapshotOfRow(task: McpTask): TaskSnapshot {
  return {
    id: task.id,
    status: task.status,
    ...(task.statusMessage === null ? {} : { statusMessage: task.statusMessage }),
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
    ttlMs: task.expiresAt === null ? null : task.expiresAt.getTime() - task.createdAt.getTime(),
    ...(task.result === null ? {} : { result: task.result }),
    ...(task.error === null ? {} : { error: task.error }),
  };
}

/**
 * A task this process is running: its upstream call (a held call, so the upstream's requests for
 * client input wait for `tasks/update`), what it waits for, and its latest progress. The stored row
 * follows every status change; writes go out one after the other so the row ends as the task did.
 */
export class LiveTask {
  readonly id: string;
  readonly owner: string;
  readonly tool: string;
  readonly held: HeldCall<CallToolResult>;
  readonly createdAt = new Date();
  readonly expiresAt: Date | null;
  status: McpTaskStatus = 'working';
  updatedAt = this.createdAt;
  progress: Progress | undefined;
  /** Held-call round whose questions are outstanding. */
  round = 0;
  #statusMessage: string | undefined;
  #outcome: Pick<TaskSnapshot, 'result' | 'error'> = {};
  #questions: Record<string, InputRequestWire> = {};
  #answers: Record<string, unknown> = {};
  #writes = Promise.resolve();

  constructor(id: string, owner: string, tool: string, held: HeldCall<CallToolResult>, ttlMs: number | null) {
    this.id = id;
    this.owner = owner;
    this.tool = tool;
    this.held = held;
    this.expiresAt = ttlMs === null ? null : new Date(this.createdAt.getTime() + ttlMs);
  }

  get ended(): boolean {
    return isTerminal(this.status);
  }

  /** The upstream asks the client for input: the task waits for `tasks/update`. */
  waitForInput(requests: Record<string, InputRequestWire>, round: number): McpTaskChange {
    this.#questions = requests;
    this.#answers = {};
    this.round = round;
    const methods = [...new Set(Object.values(requests).map((r) => r.method))].join(', ');
    return this.#move({
      status: 'input_required',
      statusMessage: `waiting for the client's input (${methods})`,
    });
  }

  /**
   * Keeps the answers to outstanding questions (others are ignored, as the extension asks). Returns
   * every answer once all questions have one; until then the task keeps waiting.
   */
  accept(responses: Record<string, unknown>): Record<string, unknown> | undefined {
    for (const [key, value] of Object.entries(responses)) {
      if (Object.hasOwn(this.#questions, key)) this.#answers[key] = value;
    }
    const open = Object.keys(this.#questions).filter((key) => !Object.hasOwn(this.#answers, key));
    return open.length === 0 ? this.#answers : undefined;
  }

  /** Answers delivered: the task works again. */
  resume(): McpTaskChange {
    this.#questions = {};
    return this.#move({ status: 'working' });
  }

  /** Ends the task (first end wins; later ones return undefined). */
  end(change: McpTaskChange): McpTaskChange | undefined {
    if (this.ended) return undefined;
    this.#outcome = {
      ...(change.result ? { result: change.result } : {}),
      ...(change.error ? { error: change.error } : {}),
    };
    return this.#move(change);
  }

  /** Runs `write` after the writes queued before it; a failed write does not stop later ones. */
  write(write: () => Promise<unknown>): Promise<void> {
    const next = this.#writes.then(write).then(() => {});
    this.#writes = next.catch(() => {});
    return next;
  }

  /** Resolves once every queued write has finished. */
  flushed(): Promise<void> {
    return this.#writes;
  }

  snapshot(): TaskSnapshot {
    const message = this.status === 'working' ? progressText(this.progress) : this.#statusMessage;
    return {
      id: this.id,
      status: this.status,
      ...(message === undefined ? {} : { statusMessage: message }),
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
      ttlMs: this.expiresAt === null ? null : this.expiresAt.getTime() - this.createdAt.getTime(),
      ...(this.status === 'input_required' ? { inputRequests: this.#questions } : {}),
      ...this.#outcome,
    };
  }

  #move(change: McpTaskChange): McpTaskChange {
    this.status = change.status;
    this.#statusMessage = change.statusMessage ?? undefined;
    this.updatedAt = new Date();
    return change;
  }
}

function progressText(progress: Progress | undefined): string | undefined {
  if (!progress) return undefined;
  const amount =
    progress.total === undefined ? `${progress.progress}` : `${progress.progress}/${progress.total}`;
  return progress.message ? `progress ${amount}: ${progress.message}` : `progress ${amount}`;
}
