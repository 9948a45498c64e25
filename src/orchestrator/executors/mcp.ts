import { z } from 'zod';
import { abortError, parseBinding } from './binding.ts';
import {
  type AgentToolResult,
  type ExecutionContext,
  ExecutionError,
  type ExecutionResult,
  type Executor,
} from './types.ts';

/**
 * The `mcp` executor (issue 4 §5): the task is one call of a gateway tool. The binding names the
 * tool (its aggregate name, `<server>__<tool>`) and may fix some arguments; an object input adds
 * to them (the input wins). The call is the agent's: it sees only its workspace's tools, and
 * cancelling the task cancels the call upstream.
 */
const McpBindingSchema = z.strictObject({
  type: z.literal('mcp'),
  tool: z.string().min(1).max(200),
  arguments: z.record(z.string(), z.unknown()).optional(),
});
export type McpBinding = z.infer<typeof McpBindingSchema>;

export const mcpExecutor: Executor<McpBinding> = {
  type: 'mcp',
  parse: (binding) => parseBinding('mcp', McpBindingSchema, binding),
  run: callTool,
};

async function callTool(context: ExecutionContext & { binding: McpBinding }): Promise<ExecutionResult> {
  const { binding, task, signal } = context;
  const input = isObject(task.input) ? task.input : {};
  context.log('info', `calling ${binding.tool}`);
  let result: AgentToolResult;
  try {
    result = await context.tools.call(binding.tool, { ...binding.arguments, ...input }, signal);
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    // A tool the agent may not use, or arguments its schema refuses, will not work next time either.
    const code = (error as { code?: string }).code;
    const permanent =
      code === 'TOOL_NOT_FOUND' || code === 'TOOL_ARGUMENTS_INVALID' || code === 'PERMISSION_DENIED';
    throw new ExecutionError('EXECUTOR_TOOL', `${binding.tool}: ${(error as Error).message}`, {
      retryable: !permanent,
      cause: error,
    });
  }
  if (result.isError) {
    throw new ExecutionError(
      'EXECUTOR_TOOL',
      `${binding.tool} answered an error: ${textOf(result) || '(no text)'}`,
    );
  }
  return { output: result.structuredContent ?? (onlyText(result) ? textOf(result) : result.content) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyText(result: AgentToolResult): boolean {
  return result.content.length > 0 && result.content.every((item) => item.type === 'text');
}

function textOf(result: AgentToolResult): string {
  return result.content
    .filter((item) => item.type === 'text')
    .map((item) => String(item.text))
    .join('\n');
}
