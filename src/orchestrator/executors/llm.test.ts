import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  anthropicError,
  anthropicMessage,
  type LlmProviderFixture,
  openAiCompletion,
  openAiError,
  type RecordedRequest,
  type ScriptedReply,
  type ScriptedTurn,
  startLlmProvider,
} from '../../../test/fixtures/llm-provider.ts';
import type { Agent } from '../../core/agent.ts';
import { ZiggieError } from '../../core/errors.ts';
import type { Task } from '../../core/task.ts';
import { llmExecutor } from './llm.ts';
import { runningTask } from './test-context.ts';
import { type AgentTool, type AgentTools, ExecutionError } from './types.ts';

const KEY_ENV = 'ZIGGIE_TEST_LLM_KEY';
const KEY = 'sk-ziggie-test-4f9c2e71b0';
const ECHO: AgentTool = {
  name: 'echo',
  description: 'Echoes its text',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
};
const HIDDEN: AgentTool = {
  name: 'hidden',
  description: 'Not for this agent',
  inputSchema: { type: 'object' },
};

const task: Task = runningTask({
  id: 'tsk_1',
  taskType: 'summarize',
  creator: { type: 'user', id: 'alice' },
  assignee: 'writer',
  input: { doc: 'hello world' },
  leaseExpiresAt: new Date(),
});

const agent: Agent = {
  id: 'writer',
  tier: 'L2',
  name: 'Writer',
  team: null,
  workspace: null,
  parent: null,
  skills: ['writing', 'summaries'],
  specialization: null,
  status: 'working',
  capacity: 1,
  workload: 1,
  qualityScore: 100,
  tasksCompleted: 0,
  avgCompletionMs: null,
  executor: null,
  metadata: {},
  createdAt: new Date(),
  updatedAt: new Date(),
};

/** How each provider's wire format carries what the tests check. */
interface Provider {
  name: 'openai' | 'anthropic';
  baseUrl(fixture: LlmProviderFixture): string;
  turn(turn: ScriptedTurn): ScriptedReply;
  error(status: number, message: string): ScriptedReply;
  system(body: RecordedRequest['body']): string;
  firstUserText(body: RecordedRequest['body']): string;
  offered(body: RecordedRequest['body']): Array<{ name: string; description: string; schema: unknown }>;
  toolResults(body: RecordedRequest['body']): Array<{ id: string; text: string; isError: boolean }>;
  sentKey(request: RecordedRequest): string | undefined;
}

const bearer = (request: RecordedRequest) => request.headers.authorization?.replace(/^Bearer /, '');

const openai: Provider = {
  name: 'openai',
  baseUrl: (fixture) => `${fixture.url}/v1`,
  turn: openAiCompletion,
  error: openAiError,
  system: (body) => (body.messages[0].role === 'system' ? body.messages[0].content : undefined),
  firstUserText: (body) => body.messages[1].content,
  offered: (body) =>
    (body.tools ?? []).map((t: { type: string; function: Record<string, unknown> }) => ({
      name: t.function.name,
      description: t.function.description,
      schema: t.type === 'function' ? t.function.parameters : undefined,
    })),
  toolResults: (body) =>
    body.messages
      .filter((m: { role: string }) => m.role === 'tool')
      .map((m: { tool_call_id: string; content: string }) => ({
        id: m.tool_call_id,
        text: m.content.replace(/^Error: /, ''),
        isError: m.content.startsWith('Error: '),
      })),
  sentKey: bearer,
};

const anthropic: Provider = {
  name: 'anthropic',
  baseUrl: (fixture) => fixture.url,
  turn: anthropicMessage,
  error: anthropicError,
  system: (body) => body.system,
  firstUserText: (body) => body.messages[0].content,
  offered: (body) =>
    (body.tools ?? []).map((t: Record<string, unknown>) => ({
      name: t.name,
      description: t.description,
      schema: t.input_schema,
    })),
  toolResults: (body) =>
    body.messages
      .flatMap((m: { role: string; content: unknown }) => (Array.isArray(m.content) ? m.content : []))
      .filter((b: { type: string }) => b.type === 'tool_result')
      .map((b: { tool_use_id: string; content: string; is_error?: boolean }) => ({
        id: b.tool_use_id,
        text: b.content,
        isError: b.is_error === true,
      })),
  // The SDK sends its key as `Authorization: Bearer`; the Anthropic API also takes `x-api-key`.
  sentKey: (request) => (request.headers['x-api-key'] as string | undefined) ?? bearer(request),
};

let fixture: LlmProviderFixture;
beforeEach(async () => {
  fixture = await startLlmProvider();
  process.env[KEY_ENV] = KEY;
});
afterEach(async () => {
  delete process.env[KEY_ENV];
  await fixture.close();
});

/** A run of the executor against the fixture, with an `echo` tool that records its calls. */
function setup(
  binding: Record<string, unknown>,
  options: { task?: Partial<Task>; agent?: Partial<Agent> } = {},
) {
  const logs: string[] = [];
  const calls: Array<{ name: string; args: Record<string, unknown> }> = [];
  const controller = new AbortController();
  const tools: AgentTools = {
    list: async () => [ECHO, HIDDEN],
    call: async (name, args) => {
      calls.push({ name, args });
      if (args.text === 'boom') throw new Error('upstream echo is down');
      return { content: [{ type: 'text', text: `echo: ${String(args.text)}` }] };
    },
  };
  const run = () =>
    llmExecutor.run({
      task: { ...task, ...options.task },
      agent: { ...agent, ...options.agent },
      binding: llmExecutor.parse(binding),
      signal: controller.signal,
      log: (stream, text) => logs.push(`${stream} ${text}`),
      progress: () => {},
      tools,
    });
  return { run, logs, calls, controller };
}

async function rejection(promise: Promise<unknown>): Promise<ExecutionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExecutionError);
  return error as ExecutionError;
}

describe.each([openai, anthropic])('llm executor, $name', (provider) => {
  const binding = (extra: Record<string, unknown> = {}) => ({
    type: 'llm',
    provider: provider.name,
    model: 'test-model',
    baseUrl: provider.baseUrl(fixture),
    apiKeyEnv: KEY_ENV,
    ...extra,
  });

  it('calls a tool, feeds its result back and answers; sums usage and prices it', async () => {
    fixture.reply(
      provider.turn({
        toolCalls: [{ id: 'call_1', name: 'echo', arguments: { text: 'hi' } }],
        usage: { input: 100, output: 20 },
      }),
      provider.turn({ text: 'done: echo: hi', usage: { input: 150, output: 30 } }),
    );
    const { run, calls, logs } = setup(
      binding({
        systemPrompt: 'Be brief.',
        maxTokens: 300,
        temperature: 0.2,
        pricing: { inputPerMTok: 3, outputPerMTok: 15 },
      }),
    );
    const result = await run();

    expect(result.output).toEqual({
      text: 'done: echo: hi',
      steps: 2,
      toolCalls: [{ name: 'echo', isError: false }],
    });
    expect(result.usage?.inputTokens).toBe(250);
    expect(result.usage?.outputTokens).toBe(50);
    expect(result.usage?.cost).toBeCloseTo((250 * 3 + 50 * 15) / 1e6, 12);
    expect(calls).toEqual([{ name: 'echo', args: { text: 'hi' } }]);
    expect(logs).toContain('info tool echo');

    const [first, second] = fixture.requests;
    expect(fixture.requests).toHaveLength(2);
    expect(first?.body.model).toBe('test-model');
    expect(first?.body.max_tokens).toBe(300);
    expect(first?.body.temperature).toBe(0.2);
    expect(provider.system(first?.body)).toBe('Be brief.');
    expect(provider.firstUserText(first?.body)).toContain('summarize');
    expect(provider.firstUserText(first?.body)).toContain('"doc": "hello world"');
    // Every tool the agent may use is offered, with its schema as the function's parameters.
    expect(provider.offered(first?.body)).toEqual([
      { name: 'echo', description: 'Echoes its text', schema: ECHO.inputSchema },
      { name: 'hidden', description: 'Not for this agent', schema: HIDDEN.inputSchema },
    ]);
    expect(provider.toolResults(first?.body)).toEqual([]);
    expect(provider.toolResults(second?.body)).toEqual([{ id: 'call_1', text: 'echo: hi', isError: false }]);
  });

  it("uses the agent's system prompt, else one naming the agent; a reworked task sees its review feedback", async () => {
    fixture.reply(provider.turn({ text: 'a' }), provider.turn({ text: 'b' }));
    await setup(binding(), { agent: { metadata: { systemPrompt: 'You write summaries.' } } }).run();
    await setup(binding(), {
      task: { input: 'plain text', reviewFeedback: 'Too long; cut it to one line.' },
    }).run();

    const [first, second] = fixture.requests;
    expect(provider.system(first?.body)).toBe('You write summaries.');
    expect(provider.system(second?.body)).toMatch(/Writer.*L2.*writing, summaries/);
    expect(provider.firstUserText(second?.body)).toContain('plain text');
    expect(provider.firstUserText(second?.body)).toContain('Too long; cut it to one line.');
  });

  it('fails for good when the model still calls tools after maxSteps', async () => {
    const call = { toolCalls: [{ id: 'call_1', name: 'echo', arguments: { text: 'again' } }] };
    fixture.reply(provider.turn(call), provider.turn(call), provider.turn({ text: 'never asked' }));
    const { run, calls } = setup(binding({ maxSteps: 2 }));
    const error = await rejection(run());
    expect(error.code).toBe('LLM_STEP_LIMIT');
    expect(error.retryable).toBe(false);
    expect(fixture.requests).toHaveLength(2);
    expect(calls).toHaveLength(1);
  });

  it('answers a tool outside the allowlist with an error result, not a crash', async () => {
    fixture.reply(
      provider.turn({ toolCalls: [{ id: 'call_1', name: 'hidden', arguments: {} }] }),
      provider.turn({ text: 'ok, without it' }),
    );
    const { run, calls } = setup(binding({ tools: ['echo'] }));
    const result = await run();
    expect(result.output).toEqual({
      text: 'ok, without it',
      steps: 2,
      toolCalls: [{ name: 'hidden', isError: true }],
    });
    expect(calls).toEqual([]);
    expect(provider.offered(fixture.requests[0]?.body).map((t) => t.name)).toEqual(['echo']);
    const [fed] = provider.toolResults(fixture.requests[1]?.body);
    expect(fed).toMatchObject({ id: 'call_1', isError: true });
    expect(fed?.text).toContain('no tool hidden');
  });

  it('fails for good on a 400', async () => {
    fixture.reply(provider.error(400, 'model test-model does not exist'));
    const error = await rejection(setup(binding()).run());
    expect(error.code).toBe('LLM_PROVIDER');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(`${provider.name} answered 400: model test-model does not exist`);
  });

  it('fails for a retry on a 500, once (the SDK does not retry by itself)', async () => {
    fixture.reply(provider.error(500, 'overloaded'), provider.turn({ text: 'too late' }));
    const error = await rejection(setup(binding()).run());
    expect(error.code).toBe('LLM_PROVIDER');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(`${provider.name} answered 500: overloaded`);
    expect(fixture.requests).toHaveLength(1);
  });

  it('stops a request in flight when the signal aborts, with its reason', async () => {
    fixture.reply({ ...provider.turn({ text: 'slow' }), delayMs: 10_000 });
    const { run, controller } = setup(binding());
    const started = Date.now();
    const running = run();
    await vi.waitFor(() => expect(fixture.requests).toHaveLength(1));
    const reason = new ExecutionError('EXECUTOR_TIMEOUT', 'the deadline passed', { retryable: false });
    controller.abort(reason);
    expect(await rejection(running)).toBe(reason);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends the key from the named variable as the auth header and never logs it', async () => {
    fixture.reply(
      provider.turn({ toolCalls: [{ id: 'call_1', name: 'echo', arguments: { text: 'x' } }] }),
      provider.turn({ text: 'fine' }),
    );
    const { run, logs } = setup(binding());
    const result = await run();
    expect(fixture.requests.map(provider.sentKey)).toEqual([KEY, KEY]);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(KEY);
    expect(JSON.stringify(result)).not.toContain(KEY);
  });

  it('without the key: a placeholder for a local server, an error for the provider itself', async () => {
    fixture.reply(provider.turn({ text: 'local' }));
    await setup(binding({ apiKeyEnv: 'ZIGGIE_TEST_UNSET_KEY' })).run();
    expect(provider.sentKey(fixture.requests[0] as RecordedRequest)).toBe('unused');

    const { baseUrl: _, ...remote } = binding({ apiKeyEnv: 'ZIGGIE_TEST_UNSET_KEY' });
    const error = await rejection(setup(remote).run());
    expect(error.code).toBe('LLM_NO_API_KEY');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('ZIGGIE_TEST_UNSET_KEY');
  });
});

describe('llm executor', () => {
  const binding = (extra: Record<string, unknown> = {}) => ({
    type: 'llm',
    provider: 'openai',
    model: 'test-model',
    baseUrl: `${fixture.url}/v1`,
    apiKeyEnv: KEY_ENV,
    ...extra,
  });

  it('answers arguments that are not JSON with an error result', async () => {
    fixture.reply(
      openAiCompletion({ toolCalls: [{ id: 'call_1', name: 'echo', arguments: '{"text": "unterminated' }] }),
      openAiCompletion({ text: 'sorry' }),
    );
    const { run, calls } = setup(binding());
    const result = await run();
    expect(result.output).toMatchObject({ text: 'sorry', toolCalls: [{ name: 'echo', isError: true }] });
    expect(calls).toEqual([]);
    expect(openai.toolResults(fixture.requests[1]?.body)).toEqual([
      { id: 'call_1', text: 'the arguments are not valid JSON', isError: true },
    ]);
  });

  it('answers a tool call that throws with an error result', async () => {
    fixture.reply(
      openAiCompletion({ toolCalls: [{ id: 'call_1', name: 'echo', arguments: { text: 'boom' } }] }),
      openAiCompletion({ text: 'the tool is down' }),
    );
    const { run, logs } = setup(binding());
    const result = await run();
    expect(result.output).toMatchObject({
      text: 'the tool is down',
      toolCalls: [{ name: 'echo', isError: true }],
    });
    expect(openai.toolResults(fixture.requests[1]?.body)).toEqual([
      { id: 'call_1', text: 'the call failed: upstream echo is down', isError: true },
    ]);
    expect(logs).toContain('info tool echo: the call failed: upstream echo is down');
  });

  it('fails for a retry when the server cannot be reached', async () => {
    const url = `${fixture.url}/v1`;
    await fixture.close();
    fixture = await startLlmProvider(); // afterEach closes this one
    const error = await rejection(setup(binding({ baseUrl: url })).run());
    expect(error.code).toBe('LLM_PROVIDER');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^openai could not be reached/);
  });

  it('answers an abort without an ExecutionError reason with EXECUTOR_CANCELLED', async () => {
    fixture.reply({ ...openAiCompletion({ text: 'slow' }), delayMs: 10_000 });
    const { run, controller } = setup(binding());
    const running = run();
    await vi.waitFor(() => expect(fixture.requests).toHaveLength(1));
    controller.abort();
    const error = await rejection(running);
    expect(error.code).toBe('EXECUTOR_CANCELLED');
  });

  it.each([
    [{ provider: 'gemini' }, 'executor.provider: expected one of openai, anthropic (got "gemini")'],
    [{ model: undefined }, 'executor.model: required'],
    [{ type: 'shell' }, 'executor.type: expected one of llm'],
    [{ baseUrl: 'localhost:11434' }, 'executor.baseUrl: expected an http(s) URL'],
    [{ maxSteps: 0 }, 'executor.maxSteps: must be at least 1'],
    [{ maxSteps: 51 }, 'executor.maxSteps: must be at most 50'],
    [{ maxSteps: 2.5 }, 'executor.maxSteps: expected an integer'],
    [{ maxTokens: -1 }, 'executor.maxTokens: must be at least 1'],
    [{ temperature: 3 }, 'executor.temperature: must be at most 2'],
    [{ tools: 'echo' }, 'executor.tools: expected a list'],
    [{ pricing: { inputPerMTok: 3 } }, 'executor.pricing.outputPerMTok: required'],
    [
      { pricing: { inputPerMTok: 3, outputPerMTok: 15, currency: 'EUR' } },
      'executor.pricing.currency: unknown key',
    ],
    [{ timeoutMs: 0 }, 'executor.timeoutMs: must be at least 1'],
    [{ apiKey: KEY }, 'executor.apiKey: unknown key (did you mean "apiKeyEnv"?)'],
    [{ apiKeyEnv: KEY }, 'executor.apiKeyEnv: expected the name of an environment variable'],
  ])('refuses the binding %j, naming the field', (change, message) => {
    let error: unknown;
    try {
      llmExecutor.parse({ ...binding(), ...change });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ZiggieError);
    expect((error as ZiggieError).code).toBe('EXECUTOR_BINDING_INVALID');
    expect((error as ZiggieError).message).toContain(message);
    // A key put where it does not belong is never echoed back.
    expect(JSON.stringify([(error as ZiggieError).message, (error as ZiggieError).details])).not.toContain(
      KEY,
    );
  });

  it('fills in the defaults', () => {
    expect(llmExecutor.parse({ type: 'llm', provider: 'anthropic', model: 'm' })).toEqual({
      type: 'llm',
      provider: 'anthropic',
      model: 'm',
      maxSteps: 8,
      maxTokens: 1024,
      timeoutMs: 120_000,
    });
  });
});
