import { hasTaskClientCapabilityV2 } from '@modelcontextprotocol/ext-tasks/core/v2';
import {
  type CallToolRequest,
  type CallToolResult,
  type InputRequiredResult,
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { invokeTool } from '../../invoke-tool.ts';
import type { CatalogView } from '../../view.ts';
import { callerOf } from '../caller.ts';
import { toProtocolError } from '../errors.ts';
import type { DownstreamSession } from '../session.ts';
import type { SessionServices } from '../session-server.ts';
import { callToolStateless, envelopeSupports, ownerOf } from '../stateless-tool-call.ts';
import { TaskIdSealer } from './sealed-task-id.ts';
import {
  passThroughCall,
  passThroughCancel,
  passThroughGet,
  passThroughUpdate,
  upstreamRunsTasks,
} from './task-passthrough.ts';
import {
  CancelTaskParams,
  createTaskResult,
  detailedTask,
  GetTaskParams,
  InputResponses,
  TASKS_EXTENSION,
  UpdateTaskParams,
} from './task-wire.ts';

/** The capability a stateless endpoint adds when it serves tasks. */
export const TASKS_CAPABILITY = { extensions: { [TASKS_EXTENSION]: {} } } as const;

/** Whether a `tools/call` may be answered with a task: tasks are on and the client declared them. */
export function wantsTask(services: SessionServices, ctx: ServerContext): boolean {
  if (!services.tasks || !ctx.mcpReq.envelope) return false;
  return hasTaskClientCapabilityV2({ _meta: ctx.mcpReq.envelope });
}

/**
 * `tools/call` from a 2026-07-28 client that supports tasks. An upstream that runs tasks itself gets
 * the call as a task-augmented one and its task is passed through (task-passthrough.ts). For any
 * other, the call runs as a held call (the upstream's requests for client input wait for
 * `tasks/update`); a quick call is answered as usual, a longer one with `resultType: "task"`. A
 * retry of a multi-round call, or one more call of an identity at its task limit, goes the ordinary
 * stateless way.
 */
export async function callToolAsTask(
  services: SessionServices,
  view: CatalogView,
  session: DownstreamSession,
  request: CallToolRequest,
  ctx: ServerContext,
): Promise<CallToolResult | InputRequiredResult> {
  const tasks = services.tasks;
  const owner = ownerOf(ctx);
  if (!tasks || ctx.mcpReq.requestState() !== undefined)
    return callToolStateless(services, view, session, request, ctx);
  const { name, arguments: args } = request.params;
  const server = view.resolveTool(name)?.server;
  if (server !== undefined && upstreamRunsTasks(services, server)) {
    const passed = await passThroughCall(services, tasks.sealer, view, request, ctx, owner).catch(
      (error: unknown) => {
        throw toProtocolError(error, server);
      },
    );
    if (passed) return passed;
  }
  if (!tasks.hasRoom(owner)) return callToolStateless(services, view, session, request, ctx);
  try {
    const started = await tasks.start(
      owner,
      name,
      (held, signal) =>
        invokeTool(services, view, name, args, {
          signal,
          caller: callerOf(ctx),
          onprogress: (progress) => held.onprogress?.(progress as Record<string, unknown>),
          track: (target) => {
            const inFlight = services.sessions.beginCall(session, target, {
              supports: (method) => envelopeSupports(ctx, method),
              ask: (method, params, askSignal) => held.ask(method, params, askSignal),
            });
            return () => services.sessions.endCall(inFlight);
          },
        }).catch((error: unknown) => {
          // Stored as the task's JSON-RPC error, so it gets the wire form a plain call would.
          throw toProtocolError(error, server);
        }),
      ctx.mcpReq.signal,
    );
    if (started.done) return started.result;
    return createTaskResult(started.task, tasks.limits.pollIntervalMs) as unknown as CallToolResult;
  } catch (error) {
    throw toProtocolError(error, server);
  }
}

/**
 * `tasks/get`, `tasks/update` and `tasks/cancel`, for stateless requests, scoped to the caller. A
 * sealed id goes to the upstream running the task (if it opens for the caller on this endpoint).
 */
export function registerTaskHandlers(server: Server, services: SessionServices, view: CatalogView): void {
  const tasks = services.tasks;
  if (!tasks) return;
  const owner = (ctx: ServerContext): string => {
    // The 2025-11-25 revision has its own, different tasks; sessions are not offered these.
    if (!ctx.mcpReq.envelope) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found');
    // The extension: a client that does not declare it on the request gets -32021 for tasks/*.
    if (!hasTaskClientCapabilityV2({ _meta: ctx.mcpReq.envelope })) {
      throw new ProtocolError(
        ProtocolErrorCode.MissingRequiredClientCapability,
        `Missing required client capability: ${TASKS_EXTENSION} (declare it in the request's client capabilities)`,
        { requiredCapabilities: TASKS_CAPABILITY },
      );
    }
    return ownerOf(ctx);
  };
  const pollIntervalMs = tasks.limits.pollIntervalMs;

  server.setRequestHandler('tasks/get', { params: GetTaskParams }, async ({ taskId }, ctx) => {
    const who = owner(ctx);
    if (TaskIdSealer.isSealed(taskId)) {
      return (await passThroughGet(services, tasks.sealer, view, taskId, ctx, who).catch(rethrow)) as never;
    }
    const task = await tasks.get(taskId, who).catch(rethrow);
    return detailedTask(task, pollIntervalMs) as never;
  });

  server.setRequestHandler('tasks/update', { params: UpdateTaskParams }, async ({ taskId }, ctx) => {
    const who = owner(ctx);
    const responses = InputResponses.safeParse(ctx.mcpReq.inputResponses);
    if (!responses.success) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Invalid params for tasks/update: inputResponses must map request keys to elicitation, sampling or roots results (${responses.error.message})`,
      );
    }
    if (TaskIdSealer.isSealed(taskId)) {
      await passThroughUpdate(services, tasks.sealer, view, taskId, responses.data, ctx, who).catch(rethrow);
      return {};
    }
    await tasks.update(taskId, who, responses.data).catch(rethrow);
    return {};
  });

  server.setRequestHandler('tasks/cancel', { params: CancelTaskParams }, async ({ taskId }, ctx) => {
    const who = owner(ctx);
    if (TaskIdSealer.isSealed(taskId)) {
      await passThroughCancel(services, tasks.sealer, view, taskId, ctx, who).catch(rethrow);
      return {};
    }
    await tasks.cancel(taskId, who).catch(rethrow);
    return {};
  });
}

function rethrow(error: unknown): never {
  throw toProtocolError(error);
}
