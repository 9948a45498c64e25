import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { LlmBinding, LlmComplete, LlmMessage } from './llm.ts';
import { ExecutionError } from './types.ts';

/**
 * The OpenAI chat-completions wire format (non-streaming), also spoken by Ollama, llama.cpp and
 * vLLM: the neutral conversation in, the model's turn out.
 */

function toWire(message: LlmMessage): ChatCompletionMessageParam[] {
  switch (message.role) {
    case 'user':
      return [{ role: 'user', content: message.text }];
    case 'assistant':
      return [
        {
          role: 'assistant',
          content: message.text || null,
          tool_calls: message.toolCalls.map((call) => ({
            id: call.id,
            type: 'function' as const,
            function: { name: call.name, arguments: call.arguments },
          })),
        },
      ];
    case 'tool':
      // Tool messages have no error flag: the model learns of a failure from the text.
      return message.results.map((result) => ({
        role: 'tool' as const,
        tool_call_id: result.id,
        content: result.isError ? `Error: ${result.text}` : result.text,
      }));
  }
}

function failure(error: unknown): unknown {
  if (error instanceof APIUserAbortError) return error; // the loop answers with the abort's reason
  if (error instanceof APIConnectionError) {
    return new ExecutionError('LLM_PROVIDER', `openai could not be reached: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof APIError && error.status !== undefined) {
    const body = error.error as { message?: unknown } | undefined;
    const detail = typeof body?.message === 'string' ? body.message : error.message;
    const retryable = error.status === 429 || error.status >= 500;
    return new ExecutionError('LLM_PROVIDER', `openai answered ${error.status}: ${detail}`, {
      retryable,
      cause: error,
    });
  }
  return error;
}

/** A client per run: the orchestrator retries attempts, so the SDK itself never does. */
export function openAiCompleter(binding: LlmBinding, apiKey: string): LlmComplete {
  const client = new OpenAI({ apiKey, baseURL: binding.baseUrl, maxRetries: 0, timeout: binding.timeoutMs });
  return async ({ system, messages, tools, signal }) => {
    const completion = await client.chat.completions
      .create(
        {
          model: binding.model,
          messages: [{ role: 'system', content: system }, ...messages.flatMap(toWire)],
          ...(tools.length > 0 && {
            tools: tools.map((tool) => ({
              type: 'function' as const,
              function: {
                name: tool.name,
                description: tool.description ?? '',
                parameters: tool.inputSchema,
              },
            })),
          }),
          // OpenAI's reasoning models refuse max_tokens; compatible servers may not know its successor.
          ...(binding.baseUrl
            ? { max_tokens: binding.maxTokens }
            : { max_completion_tokens: binding.maxTokens }),
          ...(binding.temperature !== undefined && { temperature: binding.temperature }),
        },
        { signal },
      )
      .catch((error: unknown) => {
        throw failure(error);
      });
    const message = completion.choices[0]?.message;
    const toolCalls = (message?.tool_calls ?? []).flatMap((call) =>
      call.type === 'function'
        ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
        : [],
    );
    return {
      text: message?.content ?? '',
      toolCalls,
      usage: {
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
      },
    };
  };
}
