import { z } from 'zod';
import { describeIssues, formatIssues } from '../../config/issues.ts';
import type { Agent } from '../../core/agent.ts';
import { ZiggieError } from '../../core/errors.ts';
import type { Task } from '../../core/task.ts';
import { anthropicCompleter } from './llm-anthropic.ts';
import { openAiCompleter } from './llm-openai.ts';
import {
  type AgentTool,
  type AgentToolResult,
  type ExecutionContext,
  ExecutionError,
  type ExecutionResult,
  type Executor,
} from './types.ts';

/**
 * The `llm` executor (issue 4 §5): runs a task as a chat with a model (OpenAI, any OpenAI-compatible
 * server such as Ollama, llama.cpp or vLLM, or Anthropic) that may call the agent's gateway tools,
 * until the model answers without calling one. The loop lives here; llm-openai.ts and
 * llm-anthropic.ts only translate one request and its answer to and from their wire format.
 */

const wholeNumber = (min: number, max: number) => z.number().int().min(min).max(max);

const LlmBindingSchema = z.strictObject({
  type: z.literal('llm'),
  provider: z.enum(['openai', 'anthropic']),
  model: z.string().min(1),
  /** OpenAI: up to `/v1` (`http://localhost:11434/v1`); Anthropic: the root (the SDK adds `/v1/messages`). */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** The NAME of the variable holding the key: the key itself never sits in a binding. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional(),
  systemPrompt: z.string().min(1).optional(),
  maxSteps: wholeNumber(1, 50).default(8),
  maxTokens: wholeNumber(1, 1_000_000).default(1024),
  temperature: z.number().min(0).max(2).optional(),
  /** Allowlist of gateway tool names; without it, every tool the agent may use. */
  tools: z.array(z.string().min(1)).optional(),
  /** USD per million tokens. */
  pricing: z.strictObject({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) }).optional(),
  /** Per request. */
  timeoutMs: wholeNumber(1, 3_600_000).default(120_000),
});

export type LlmBinding = z.infer<typeof LlmBindingSchema>;

/** One message of the provider-neutral conversation the loop keeps. */
export type LlmMessage =
  | { role: 'user'; text: string }
  | { role: 'assistant'; text: string; toolCalls: LlmToolCall[] }
  /** The answers to the previous assistant message's tool calls. */
  | { role: 'tool'; results: LlmToolResult[] };

/** A tool call as the model made it; `arguments` is the JSON text it wrote. */
export interface LlmToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface LlmToolResult {
  id: string;
  text: string;
  isError: boolean;
}

/** A provider adapter: one request with the conversation so far, the model's next turn back. */
export type LlmComplete = (request: {
  system: string;
  messages: LlmMessage[];
  tools: AgentTool[];
  signal: AbortSignal;
}) => Promise<{
  text: string;
  toolCalls: LlmToolCall[];
  usage: { inputTokens: number; outputTokens: number };
}>;

/**
 * Where the shared wording does not fit: a base URL is no MCP endpoint, and an `apiKeyEnv` that
 * fails may be the key itself, which must never reach a message or a log.
 */
const OWN_WORDS: Record<string, string> = {
  'executor.baseUrl': 'expected an http(s) URL such as http://localhost:11434/v1',
  'executor.apiKeyEnv': 'expected the name of an environment variable (letters, digits, _), not the key',
};

function parseBinding(binding: unknown): LlmBinding {
  const parsed = LlmBindingSchema.safeParse(binding);
  if (parsed.success) return parsed.data;
  const issues = describeIssues(parsed.error, binding, 'executor', LlmBindingSchema).map((issue) => ({
    ...issue,
    message: OWN_WORDS[issue.path] ?? issue.message,
  }));
  throw new ZiggieError('EXECUTOR_BINDING_INVALID', `llm executor: ${formatIssues(issues)}`, { issues });
}

const DEFAULT_KEY_ENV = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY' } as const;

function connect(binding: LlmBinding): LlmComplete {
  const name = binding.apiKeyEnv ?? DEFAULT_KEY_ENV[binding.provider];
  // Local servers (Ollama, llama.cpp) need no key, but both SDKs refuse to start without one.
  const key = process.env[name] || (binding.baseUrl ? 'unused' : undefined);
  if (!key) {
    throw new ExecutionError(
      'LLM_NO_API_KEY',
      `no ${binding.provider} API key: the environment variable ${name} (apiKeyEnv) is not set`,
      { retryable: false },
    );
  }
  return binding.provider === 'openai' ? openAiCompleter(binding, key) : anthropicCompleter(binding, key);
}

function systemPrompt(binding: LlmBinding, agent: Agent): string {
  if (binding.systemPrompt) return binding.systemPrompt;
  if (typeof agent.metadata.systemPrompt === 'string') return agent.metadata.systemPrompt;
  const skills = agent.skills.length > 0 ? ` (skills: ${agent.skills.join(', ')})` : '';
  return (
    `You are ${agent.name}, a tier ${agent.tier} agent of Ziggie${skills}. Do the task you are given, ` +
    'using the tools offered when they help, and answer with its result.'
  );
}

function taskMessage(task: Task): string {
  const input = typeof task.input === 'string' ? task.input : JSON.stringify(task.input, null, 2);
  const parts = [`Task: ${task.taskType}`, `Input:\n${input}`];
  // A rejected task comes back for rework: without the reviewer's words it would repeat itself.
  if (task.reviewFeedback) {
    parts.push(`Your previous result was rejected in review. Feedback:\n${task.reviewFeedback}`);
  }
  return parts.join('\n\n');
}

function abortError(signal: AbortSignal): ExecutionError {
  if (signal.reason instanceof ExecutionError) return signal.reason;
  return new ExecutionError('EXECUTOR_CANCELLED', 'the llm run was cancelled', { retryable: false });
}

/** Awaits `work`, answering an abort with its reason rather than whatever the SDK threw. */
async function unlessAborted<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  if (signal.aborted) throw abortError(signal);
  try {
    return await work();
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    throw error;
  }
}

/** A tool's answer as the model reads it: its text items, else the whole result as JSON. */
function resultText(result: AgentToolResult): string {
  const texts = result.content.filter((item) => item.type === 'text' && typeof item.text === 'string');
  if (texts.length > 0) return texts.map((item) => item.text).join('\n');
  return JSON.stringify(result.structuredContent ?? result.content);
}

/** Runs one tool call; a call the model got wrong is answered with an error it can correct. */
async function callTool(
  context: ExecutionContext,
  offered: ReadonlySet<string>,
  call: LlmToolCall,
): Promise<LlmToolResult> {
  context.log('info', `tool ${call.name}`);
  const answerError = (reason: string) => {
    context.log('info', `tool ${call.name}: ${reason}`);
    return { id: call.id, text: reason, isError: true };
  };
  if (!offered.has(call.name)) {
    return answerError(`no tool ${call.name} here; the tools are: ${[...offered].join(', ') || 'none'}`);
  }
  let args: unknown;
  try {
    args = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
  } catch {
    return answerError('the arguments are not valid JSON');
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return answerError('the arguments must be a JSON object');
  }
  const input = args as Record<string, unknown>;
  const { signal } = context;
  try {
    const result = await unlessAborted(signal, () => context.tools.call(call.name, input, signal));
    return { id: call.id, text: resultText(result), isError: result.isError === true };
  } catch (error) {
    if (signal.aborted) throw error; // already the abort's reason
    return answerError(`the call failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function offeredTools(context: ExecutionContext & { binding: LlmBinding }): Promise<AgentTool[]> {
  const tools = await unlessAborted(context.signal, () => context.tools.list());
  const allow = context.binding.tools;
  if (!allow) return tools;
  const missing = allow.filter((name) => !tools.some((tool) => tool.name === name));
  if (missing.length > 0) context.log('info', `tools not offered by the gateway: ${missing.join(', ')}`);
  return tools.filter((tool) => allow.includes(tool.name));
}

async function run(context: ExecutionContext & { binding: LlmBinding }): Promise<ExecutionResult> {
  const { binding, signal } = context;
  const complete = connect(binding);
  const tools = await offeredTools(context);
  const offered = new Set(tools.map((tool) => tool.name));
  const system = systemPrompt(binding, context.agent);
  const messages: LlmMessage[] = [{ role: 'user', text: taskMessage(context.task) }];
  const usage = { inputTokens: 0, outputTokens: 0 };
  const calls: Array<{ name: string; isError: boolean }> = [];

  for (let step = 1; step <= binding.maxSteps; step++) {
    const turn = await unlessAborted(signal, () => complete({ system, messages, tools, signal }));
    usage.inputTokens += turn.usage.inputTokens;
    usage.outputTokens += turn.usage.outputTokens;
    if (turn.toolCalls.length === 0) {
      const price = binding.pricing ?? { inputPerMTok: 0, outputPerMTok: 0 };
      const cost = (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1e6;
      return { output: { text: turn.text, steps: step, toolCalls: calls }, usage: { ...usage, cost } };
    }
    // Tools asked for in the last allowed step would run with nobody to read their answers.
    if (step === binding.maxSteps) break;
    messages.push({ role: 'assistant', text: turn.text, toolCalls: turn.toolCalls });
    const results: LlmToolResult[] = [];
    for (const call of turn.toolCalls) {
      const result = await callTool(context, offered, call);
      calls.push({ name: call.name, isError: result.isError });
      results.push(result);
    }
    messages.push({ role: 'tool', results });
    context.progress({
      progress: step,
      total: binding.maxSteps,
      message: `step ${step}: ${calls.length} tool calls so far`,
    });
  }
  throw new ExecutionError(
    'LLM_STEP_LIMIT',
    `the model still called tools after ${binding.maxSteps} steps (maxSteps)`,
    { retryable: false },
  );
}

/** Runs tasks as a tool-using chat with a model: `{type: "llm", provider, model, …}`. */
export const llmExecutor: Executor<LlmBinding> = { type: 'llm', parse: parseBinding, run };
