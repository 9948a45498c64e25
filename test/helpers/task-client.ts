import { Client, type JSONRPCMessage, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  createApplicationInputHandler,
  createTaskSessionFromClient,
  type JsonRpcResponse,
  type RawClientDispatch,
  resultFromTaskOutcome,
  type TaskEnabledSession,
  type TaskState,
  type ToolExecution,
} from '@modelcontextprotocol/ext-tasks/client';
import type { JsonValue } from '@modelcontextprotocol/ext-tasks/core';

/** What the task clients declare: everything Ziggie relays. */
export const TASK_CLIENT_CAPABILITIES = { elicitation: {}, sampling: {}, roots: {} };

/** The official Tasks client (ext-tasks) over an SDK v2 client, and the kinds of input it was asked for. */
export interface TaskClient {
  session: TaskEnabledSession;
  client: Client;
  /** The kinds of input the client was asked for (through `input_required` tasks or retries). */
  inputs: string[];
  close(): Promise<void>;
}

/**
 * `rawDispatch` for the ext-tasks client: the SDK client's codec refuses `resultType: "task"`, so
 * task traffic goes over a second SDK transport (its framing and headers) and comes back raw.
 */
export async function rawDispatcher(
  url: string,
): Promise<{ dispatch: RawClientDispatch; close(): Promise<void> }> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const waiting = new Map<number, (response: JsonRpcResponse) => void>();
  let nextId = 1;
  transport.onmessage = (message) => {
    const reply = message as { id?: unknown; result?: JsonValue; error?: { code: number; message: string } };
    const settle = typeof reply.id === 'number' ? waiting.get(reply.id) : undefined;
    if (!settle) return;
    waiting.delete(reply.id as number);
    settle(
      reply.error ? { kind: 'error', error: reply.error } : { kind: 'result', result: reply.result ?? null },
    );
  };
  await transport.start();
  const dispatch: RawClientDispatch = (request, options) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, resolve);
      options?.signal?.addEventListener('abort', () => {
        waiting.delete(id);
        reject(options.signal?.reason);
      });
      transport
        .send({ jsonrpc: '2.0', id, ...(request as Record<string, unknown>) } as JSONRPCMessage)
        .catch((error: unknown) => {
          waiting.delete(id);
          reject(error);
        });
    });
  return { dispatch, close: () => transport.close() };
}

/**
 * The official Tasks client (ext-tasks) over an SDK v2 client pinned to 2026-07-28, on `url`. Task
 * references are scoped to an endpoint identity the host chooses (`endpointId`). It answers input
 * requests like a host: the fixtures' questions (a name; a yes/no) and server-everything's form,
 * sampling with "sampled in a task", roots with one root.
 */
export async function connectTaskClient(url: string, endpointId: string): Promise<TaskClient> {
  const clientInfo = { name: `${endpointId}-client`, version: '1.0.0' };
  const client = new Client(clientInfo, {
    capabilities: TASK_CLIENT_CAPABILITIES,
    versionNegotiation: { mode: { pin: '2026-07-28' } },
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const raw = await rawDispatcher(url);
  const inputs: string[] = [];
  const session = createTaskSessionFromClient(client, {
    endpointId,
    rawDispatch: raw.dispatch,
    v2RequestFraming: {
      protocolVersion: '2026-07-28',
      clientInfo,
      clientCapabilities: TASK_CLIENT_CAPABILITIES,
    },
    onInputRequest: createApplicationInputHandler({
      elicitation: (request) => {
        inputs.push('elicitation');
        const content: Record<string, string | boolean> = String(request.params.message).includes('name?')
          ? { name: 'Ada' }
          : { ok: true, name: 'Ada', color: 'blue', email: 'ada@example.com' };
        return { action: 'accept', content };
      },
      sampling: () => {
        inputs.push('sampling');
        return {
          role: 'assistant',
          model: 'test-model',
          content: { type: 'text', text: 'sampled in a task' },
        };
      },
      roots: () => {
        inputs.push('roots');
        return { roots: [{ uri: 'file:///work/tasks', name: 'tasks' }] };
      },
    }),
  });
  return {
    session,
    client,
    inputs,
    async close() {
      await session.close();
      await raw.close();
      await client.close();
    },
  };
}

/** Settles a task execution, recording every status it went through. */
export async function settle(
  execution: ToolExecution<unknown>,
): Promise<{ statuses: TaskState[]; result: unknown }> {
  const statuses: TaskState[] = [];
  const { outcome } = await execution.settle({
    onEvent: (event) => {
      if (event.type === 'task' && statuses.at(-1) !== event.task.status) statuses.push(event.task.status);
    },
  });
  return { statuses, result: resultFromTaskOutcome(outcome) };
}
