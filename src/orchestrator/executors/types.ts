import type { Agent } from '../../core/agent.ts';
import type { Task } from '../../core/task.ts';

/**
 * The executor contract (issue 4 §5). An agent's `executor` binding (`{type, …}`) names the
 * executor that runs its tasks; the runner (runner.ts) claims an ASSIGNED task, holds its lease
 * while `run` works, and turns what `run` returns or throws into the task's next status. An
 * executor never touches the store: it gets the task, reports through the context, and answers.
 */

/** What an attempt produced: the task's output, and what it cost when the executor knows. */
export interface ExecutionResult {
  output: unknown;
  usage?: { inputTokens: number; outputTokens: number; cost: number };
}

/** Lines of the task log (`GET /api/tasks/<id>` shows them, `ziggie tasks watch` streams them). */
export type TaskLogStream = 'stdout' | 'stderr' | 'info';

/** A tool of the gateway, as the agent may call it (aggregate names, `<server>__<tool>`). */
export interface AgentTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

/** What a tool call answered (an MCP `CallToolResult`). */
export interface AgentToolResult {
  content: Array<Record<string, unknown>>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** The gateway tools an agent may use: those of its workspace's view (all, without a workspace). */
export interface AgentTools {
  list(): Promise<AgentTool[]>;
  call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<AgentToolResult>;
}

export interface ExecutionContext {
  task: Task;
  agent: Agent;
  /** The parsed binding (the executor's own `parse` result). */
  binding: unknown;
  /**
   * Aborted when the task is cancelled, its deadline passes, its lease is lost or Ziggie stops.
   * `signal.reason` is an `ExecutionError` saying which. An executor stops its work at once
   * (kills its process tree, cancels its MCP call, ends its LLM loop) and throws.
   */
  signal: AbortSignal;
  /** Appends to the task log. Cheap; lines are batched before they reach the store. */
  log(stream: TaskLogStream, text: string): void;
  /** Reports progress (for watchers; not stored as a status change). */
  progress(progress: { progress: number; total?: number; message?: string }): void;
  tools: AgentTools;
}

/**
 * How an attempt failed. `code` is stable (`EXECUTOR_TIMEOUT`, `EXECUTOR_EXIT`, `EXECUTOR_HTTP`,
 * `LLM_STEP_LIMIT`, …); `retryable: false` fails the task for good even with attempts left (a
 * binding that can never work).
 */
export class ExecutionError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  /** What the failed attempt spent anyway (an LLM loop that failed after some steps): it still counts. */
  readonly usage: ExecutionResult['usage'];

  constructor(
    code: string,
    message: string,
    options: { retryable?: boolean; cause?: unknown; usage?: ExecutionResult['usage'] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExecutionError';
    this.code = code;
    this.retryable = options.retryable ?? true;
    this.usage = options.usage;
  }
}

export interface Executor<Binding = unknown> {
  /** The binding's `type`. */
  readonly type: string;
  /**
   * Checks a binding when an agent is registered or changed, and before each run: returns it
   * parsed or throws a ZiggieError (`EXECUTOR_BINDING_INVALID`) naming the field and what is allowed.
   */
  parse(binding: unknown): Binding;
  run(context: ExecutionContext & { binding: Binding }): Promise<ExecutionResult>;
}
