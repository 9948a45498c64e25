import type { Agent } from '../../core/agent.ts';
import type { Task } from '../../core/task.ts';
import type { ExecutionContext, Executor, TaskLogStream } from './types.ts';

/**
 * Test support for the executors' tests (not part of the runtime): a task in progress and an
 * execution context as the runner builds them, with the log kept for assertions.
 */

/** A task in its first attempt, in progress under a runner's lease; `overrides` win. */
export function runningTask(overrides: Partial<Task> = {}): Task {
  const now = new Date();
  return {
    id: 'tsk_test_1',
    taskType: 'test',
    status: 'IN_PROGRESS',
    priority: 'MEDIUM',
    workspace: null,
    creator: { type: 'user', id: 'op' },
    assignee: 'agent-1',
    reviewer: null,
    parentId: null,
    depth: 0,
    requiredSkills: [],
    input: null,
    output: null,
    error: null,
    reviewFeedback: null,
    attempts: 1,
    maxAttempts: 3,
    rejections: 0,
    idempotencyKey: null,
    deadline: null,
    createdAt: now,
    assignedAt: now,
    startedAt: now,
    reviewRequestedAt: null,
    reviewedAt: null,
    completedAt: null,
    updatedAt: now,
    durationMs: null,
    inputTokens: 0,
    outputTokens: 0,
    cost: 0,
    why: null,
    leaseOwner: 'runner-1',
    leaseExpiresAt: null,
    notBefore: null,
    childPolicy: null,
    awaitingChildren: false,
    complexity: 'normal',
    milestone: false,
    tier: null,
    ...overrides,
  };
}

/**
 * The context `executor` runs `task` in for an agent bound to `binding` (parsed by the executor);
 * `tools` throw unless given. Answers the context, its abort controller and the log lines.
 */
export function executionContext<B>(
  executor: Executor<B>,
  binding: Record<string, unknown>,
  options: { task: Task; agent: Pick<Agent, 'id' | 'name' | 'tier'>; tools?: ExecutionContext['tools'] },
) {
  const controller = new AbortController();
  const logs: Array<{ stream: TaskLogStream; text: string }> = [];
  const noTools = () => {
    throw new Error(`the ${executor.type} executor uses no gateway tools`);
  };
  const context = {
    task: options.task,
    agent: { ...options.agent, executor: binding } as unknown as Agent,
    binding: executor.parse(binding),
    signal: controller.signal,
    log: (stream: TaskLogStream, text: string) => logs.push({ stream, text }),
    progress: () => {},
    tools: options.tools ?? { list: noTools, call: noTools },
  };
  const lines = (stream: TaskLogStream) => logs.filter((l) => l.stream === stream).map((l) => l.text);
  return { context, controller, logs, lines };
}
