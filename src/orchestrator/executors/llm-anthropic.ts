import Anthropic, { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import type { MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { LlmBinding, LlmComplete, LlmMessage } from './llm.ts';
import { ExecutionError } from './types.ts';

/** The Anthropic Messages wire format (non-streaming): the neutral conversation in, the model's turn out. */

function toWire(message: LlmMessage): MessageParam {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: message.text };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          ...(message.text ? [{ type: 'text' as const, text: message.text }] : []),
          ...message.toolCalls.map((call) => ({
            type: 'tool_use' as const,
            id: call.id,
            name: call.name,
            // Written by this adapter from the model's `input` object, so it parses.
            input: JSON.parse(call.arguments) as Record<string, unknown>,
          })),
        ],
      };
    case 'tool':
      return {
        role: 'user',
        content: message.results.map((result) => ({
          type: 'tool_result' as const,
          tool_use_id: result.id,
          content: result.text,
          is_error: result.isError,
        })),
      };
  }
}

function failure(error: unknown): unknown {
  if (error instanceof APIUserAbortError) return error; // the loop answers with the abort's reason
  if (error instanceof APIConnectionError) {
    return new ExecutionError('LLM_PROVIDER', `anthropic could not be reached: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof APIError && error.status !== undefined) {
    const retryable = error.status === 429 || error.status >= 500;
    return new ExecutionError(
      'LLM_PROVIDER',
      `anthropic answered ${error.status}: ${error.apiMessage ?? error.message}`,
      {
        retryable,
        cause: error,
      },
    );
  }
  return error;
}

/** A client per run: the orchestrator retries attempts, so the SDK itself never does. */
export function anthropicCompleter(binding: LlmBinding, apiKey: string): LlmComplete {
  const client = new Anthropic({
    apiKey,
    baseURL: binding.baseUrl,
    maxRetries: 0,
    timeout: binding.timeoutMs,
  });
  return async ({ system, messages, tools, signal }) => {
    const answer = await client.messages
      .create(
        {
          model: binding.model,
          max_tokens: binding.maxTokens,
          system,
          messages: messages.map(toWire),
          ...(tools.length > 0 && {
            tools: tools.map(
              (tool): Tool => ({
                name: tool.name,
                description: tool.description ?? '',
                input_schema: tool.inputSchema as Tool.InputSchema,
              }),
            ),
          }),
          ...(binding.temperature !== undefined && { temperature: binding.temperature }),
        },
        { signal },
      )
      .catch((error: unknown) => {
        throw failure(error);
      });
    const text = answer.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    const toolCalls = answer.content.flatMap((block) =>
      block.type === 'tool_use'
        ? [{ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) }]
        : [],
    );
    return {
      text,
      toolCalls,
      usage: { inputTokens: answer.usage.input_tokens, outputTokens: answer.usage.output_tokens },
    };
  };
}
