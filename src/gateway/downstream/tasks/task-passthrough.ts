import {
  CreateTaskResultV2Schema,
  DetailedTaskV2Schema,
  hasTaskServerCapabilityV2,
} from '@modelcontextprotocol/ext-tasks/core/v2';
import {
  type CallToolRequest,
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  LOG_LEVEL_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { ZiggieError } from '../../../core/errors.ts';
import { checkedTool } from '../../invoke-tool.ts';
import type { Upstream } from '../../upstream/types.ts';
import type { CatalogView } from '../../view.ts';
import { callerOf } from '../caller.ts';
import type { SessionServices } from '../session-server.ts';
import type { TaskIdSealer, UpstreamTaskRef } from './sealed-task-id.ts';
import { TASKS_EXTENSION } from './task-wire.ts';

/**
 * Tasks passed through to upstreams that run tasks themselves (a 2026-07-28 upstream whose
 * `server/discover` declares the Tasks extension): the task-augmented `tools/call` goes to the
 * upstream as it is, and the upstream's task comes back to the client under a sealed id
 * (sealed-task-id.ts) that routes `tasks/get`, `tasks/update` and `tasks/cancel` to it. Ziggie
 * keeps nothing: the task, its input requests, its result and its time to live are the upstream's.
 */

/** Whether the upstream behind `server` runs tasks itself (known once it has been listed). */
export function upstreamRunsTasks(services: SessionServices, server: string): boolean {
  if (services.upstream(server)?.status().era !== '2026') return false;
  return hasTaskServerCapabilityV2(services.catalog.listing(server)?.capabilities);
}

/**
 * Sends a task-augmented `tools/call` to the upstream that owns the tool. Its task comes back under
 * a sealed id; a result it chose to give at once comes back as it is. Undefined: the upstream asks
 * for client input before it decides on a task (a multi-round request), which is left to the
 * gateway's own handling of the call.
 */
export async function passThroughCall(
  services: SessionServices,
  sealer: TaskIdSealer,
  view: CatalogView,
  request: CallToolRequest,
  ctx: ServerContext,
  owner: string,
): Promise<CallToolResult | undefined> {
  const { name, arguments: args } = request.params;
  const target = checkedTool(services, view, name, args);
  const upstream = upstreamOf(services, target.server);
  const logLevel = envelopeOf(ctx)[LOG_LEVEL_META_KEY];
  const started = performance.now();
  let status: 'ok' | 'error' | 'failed' | undefined = 'failed';
  try {
    const raw = await upstream.rawRequest(
      'tools/call',
      {
        name: target.entry.tool.name,
        ...(args ? { arguments: args } : {}),
        ...(typeof logLevel === 'string' ? { _meta: { [LOG_LEVEL_META_KEY]: logLevel } } : {}),
      },
      { signal: ctx.mcpReq.signal, clientCapabilities: taskCapabilities(ctx) },
    );
    switch (raw.resultType) {
      case 'task': {
        const task = CreateTaskResultV2Schema.safeParse(raw);
        if (!task.success) throw invalid(target.server, 'tools/call', task.error.message);
        status = 'ok';
        const { _meta: _ignored, ...created } = task.data;
        const id = sealer.seal({ server: target.server, taskId: created.taskId }, owner);
        return { ...created, taskId: id } as unknown as CallToolResult;
      }
      case 'complete': {
        const { resultType: _complete, ...result } = raw;
        status = result.isError === true ? 'error' : 'ok';
        return result as CallToolResult;
      }
      case 'input_required':
        // Asked again the ordinary way: a multi-round request's rounds are repeatable by design.
        status = undefined;
        return undefined;
      default:
        throw invalid(target.server, 'tools/call', `unknown resultType ${JSON.stringify(raw.resultType)}`);
    }
  } finally {
    if (status) {
      services.recorder.record(
        target.server,
        target.entry.tool.name,
        status,
        performance.now() - started,
        callerOf(ctx),
      );
    }
  }
}

/** `tasks/get` of a passed-through task: the upstream's task, under the id the client knows. */
export async function passThroughGet(
  services: SessionServices,
  sealer: TaskIdSealer,
  view: CatalogView,
  id: string,
  ctx: ServerContext,
  owner: string,
): Promise<Record<string, unknown>> {
  const { ref, raw } = await toUpstreamTask(services, sealer, view, id, ctx, owner, 'tasks/get');
  const { resultType: _complete, _meta: _ignored, ...rest } = raw;
  const task = DetailedTaskV2Schema.safeParse(rest);
  if (!task.success) throw invalid(ref.server, 'tasks/get', task.error.message);
  if (task.data.taskId !== ref.taskId) throw invalid(ref.server, 'tasks/get', 'it answered for another task');
  return { ...task.data, taskId: id };
}

/** `tasks/update` of a passed-through task: the client's answers go to the upstream as they are. */
export async function passThroughUpdate(
  services: SessionServices,
  sealer: TaskIdSealer,
  view: CatalogView,
  id: string,
  inputResponses: Record<string, unknown>,
  ctx: ServerContext,
  owner: string,
): Promise<void> {
  await toUpstreamTask(services, sealer, view, id, ctx, owner, 'tasks/update', { inputResponses });
}

/** `tasks/cancel` of a passed-through task: the upstream decides, as the extension has it. */
export async function passThroughCancel(
  services: SessionServices,
  sealer: TaskIdSealer,
  view: CatalogView,
  id: string,
  ctx: ServerContext,
  owner: string,
): Promise<void> {
  await toUpstreamTask(services, sealer, view, id, ctx, owner, 'tasks/cancel');
}

/** Sends a `tasks/*` request for the task a sealed id names to its upstream, under the upstream's id. */
async function toUpstreamTask(
  services: SessionServices,
  sealer: TaskIdSealer,
  view: CatalogView,
  id: string,
  ctx: ServerContext,
  owner: string,
  method: 'tasks/get' | 'tasks/update' | 'tasks/cancel',
  params: Record<string, unknown> = {},
): Promise<{ ref: UpstreamTaskRef; raw: Record<string, unknown> }> {
  const ref = resolve(sealer, view, id, owner);
  const raw = await upstreamOf(services, ref.server, id).rawRequest(
    method,
    { ...params, taskId: ref.taskId },
    { signal: ctx.mcpReq.signal, clientCapabilities: taskCapabilities(ctx) },
  );
  return { ref, raw };
}

/**
 * The upstream task a sealed id names, for this owner on this endpoint. Forged, altered, another
 * identity's, or naming an upstream this endpoint does not show: all "not found", as an unknown id.
 */
function resolve(sealer: TaskIdSealer, view: CatalogView, id: string, owner: string): UpstreamTaskRef {
  const ref = sealer.open(id, owner);
  if (!ref || !view.serverNames().includes(ref.server)) throw notFound(id);
  return ref;
}

function upstreamOf(services: SessionServices, server: string, id?: string): Upstream {
  const upstream = services.upstream(server);
  if (upstream) return upstream;
  if (id !== undefined) throw notFound(id);
  throw new ZiggieError('UPSTREAM_NOT_FOUND', `upstream "${server}" was removed`, { server });
}

function notFound(id: string): ZiggieError {
  return new ZiggieError(
    'NOT_FOUND',
    `task ${id} not found: it does not exist, has expired, or belongs to another client`,
    { taskId: id },
  );
}

function invalid(server: string, method: string, why: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InternalError,
    `upstream "${server}" answered ${method} with an invalid task result: ${why}`,
    { code: 'UPSTREAM_ERROR', server },
  );
}

function envelopeOf(ctx: ServerContext): Record<string, unknown> {
  return (ctx.mcpReq.envelope as Record<string, unknown> | undefined) ?? {};
}

/**
 * What the upstream is told the client can do: what the caller declared of what Ziggie relays
 * (the upstream's input requests reach the caller as they are), and the Tasks extension.
 */
function taskCapabilities(ctx: ServerContext): ClientCapabilities {
  const caps = (envelopeOf(ctx)[CLIENT_CAPABILITIES_META_KEY] ?? {}) as ClientCapabilities;
  return {
    ...(caps.sampling ? { sampling: caps.sampling } : {}),
    ...(caps.elicitation ? { elicitation: caps.elicitation } : {}),
    ...(caps.roots ? { roots: caps.roots } : {}),
    extensions: { [TASKS_EXTENSION]: {} },
  } as ClientCapabilities;
}
