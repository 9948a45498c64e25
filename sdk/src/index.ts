/**
 * `@ziggie/sdk`: remote agents (`connectAgent`) and a client of the task API (`createClient`).
 * Types come from the server's own schemas (src/core).
 */
export type {
  AgentConnection,
  ConnectAgentOptions,
  DelegateRequest,
  RemoteTask,
  TaskContext,
  TaskHandler,
} from './agent.ts';
export { connectAgent, TaskFailure, TaskResult, withUsage } from './agent.ts';
export type { ClientOptions, TaskFilter, WatchOptions, ZiggieClient } from './client.ts';
export { createClient, isFinal } from './client.ts';
export { ZiggieApiError } from './http.ts';
export type { Page, SubmitTaskInput, TaskDetailJson, TaskJson, ToolResult } from './types.ts';
