import type { Task } from '../core/task.ts';

/** A slot of a connection promised to one task being submitted (see AgentHub.reserve). */
export interface DirectDispatch {
  /** The lease owner the task is created under. */
  owner: string;
  leaseMs: number;
  /** Names the task the slot went to, before its transaction commits. */
  bind(taskId: string): void;
  /** After the commit: the connection holds the task and the agent gets it. */
  deliver(task: Task): void;
  /** The task was not created (refused, rolled back): the slot is free again. */
  release(): void;
}

/** Finds a slot for a task being submitted to `agentId`, or undefined (it is assigned and claimed later). */
export type DirectDispatcher = (agentId: string) => DirectDispatch | undefined;
