import { ZiggieError } from '../../core/errors.ts';
import { httpExecutor } from './http.ts';
import { llmExecutor } from './llm.ts';
import { mcpExecutor } from './mcp.ts';
import { shellExecutor } from './shell.ts';
import type { Executor } from './types.ts';

/** Executors this node's runner runs itself; `remote` agents run their tasks over the WebSocket. */
export const LOCAL_EXECUTORS: ReadonlyMap<string, Executor> = new Map<string, Executor>(
  [shellExecutor, httpExecutor, mcpExecutor, llmExecutor].map((executor) => [
    executor.type,
    executor as Executor,
  ]),
);

/** Every binding type an agent may have. */
export const EXECUTOR_TYPES = ['remote', ...LOCAL_EXECUTORS.keys()] as const;

/**
 * Checks an agent's executor binding when it is registered or changed: a known type, and the
 * fields that type needs. Throws EXECUTOR_BINDING_INVALID naming what is wrong.
 */
export function checkExecutorBinding(binding: { type: string } & Record<string, unknown>): void {
  if (binding.type === 'remote') {
    const extra = Object.keys(binding).filter((key) => key !== 'type');
    if (extra.length > 0) {
      throw new ZiggieError(
        'EXECUTOR_BINDING_INVALID',
        `remote executor: executor.${extra[0]}: unknown key (a remote binding is just {type: "remote"})`,
      );
    }
    return;
  }
  const executor = LOCAL_EXECUTORS.get(binding.type);
  if (!executor) {
    throw new ZiggieError(
      'EXECUTOR_BINDING_INVALID',
      `executor.type: unknown executor "${binding.type}" (allowed: ${EXECUTOR_TYPES.join(', ')})`,
      { type: binding.type, allowed: [...EXECUTOR_TYPES] },
    );
  }
  executor.parse(binding);
}
