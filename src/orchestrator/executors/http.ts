import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { TaskUsageSchema } from '../../core/task.ts';
import { abortError, parseBinding } from './binding.ts';
import { type ExecutionContext, ExecutionError, type ExecutionResult, type Executor } from './types.ts';

/**
 * The `http` executor (issue 4 §5): POSTs the task to an agent's HTTP endpoint and takes the answer
 * as the output. Transient failures (network, timeout, 408, 429, 5xx) are retried with exponential
 * backoff within the attempt; any other answer is final. Header values may hold credentials, so
 * only header names are ever logged or put in messages.
 */

const HOUR = 3_600_000;
/** Retry-After is honoured up to this; a server asking for longer gets the task back sooner. */
const MAX_RETRY_AFTER_MS = 30_000;
const BODY_IN_ERROR_CHARS = 500;
/** An HTTP token (RFC 9110 §5.6.2). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function isHttpUrl(text: string): boolean {
  return URL.canParse(text) && ['http:', 'https:'].includes(new URL(text).protocol);
}

function hasCredentials(text: string): boolean {
  const url = URL.parse(text);
  return url !== null && (url.username !== '' || url.password !== '');
}

const HttpBindingSchema = z.strictObject({
  type: z.literal('http'),
  url: z
    .string()
    .refine(isHttpUrl, 'expected an http:// or https:// URL')
    // fetch refuses URLs with credentials; they belong in headers, which are never logged.
    .refine((url) => !hasCredentials(url), 'must not hold credentials; use headers'),
  headers: z
    .record(z.string(), z.string())
    .superRefine((headers, ctx) => {
      for (const [name, value] of Object.entries(headers)) {
        if (!HEADER_NAME.test(name))
          ctx.addIssue({ code: 'custom', path: [name], message: 'not a header name' });
        else if (/[\r\n\0]/.test(value)) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'must not contain line breaks' });
        }
      }
    })
    .optional(),
  timeoutMs: z.number().int().min(1).max(HOUR).default(60_000),
  retries: z.number().int().min(0).max(10).default(2),
  retryDelayMs: z.number().int().min(0).max(60_000).default(500),
});
export type HttpBinding = z.infer<typeof HttpBindingSchema>;

export const httpExecutor: Executor<HttpBinding> = {
  type: 'http',
  parse: (binding) => parseBinding('http', HttpBindingSchema, binding),
  run: post,
};

/** One try that went wrong in a way another try may not: worth retrying, after `waitMs` if given. */
interface Transient {
  error: ExecutionError;
  waitMs?: number;
}

async function post(context: ExecutionContext & { binding: HttpBinding }): Promise<ExecutionResult> {
  const { task, agent, binding, signal } = context;
  const body = JSON.stringify({
    task: {
      id: task.id,
      taskType: task.taskType,
      input: task.input,
      workspace: task.workspace,
      priority: task.priority,
      attempts: task.attempts,
    },
    agent: { id: agent.id, name: agent.name, tier: agent.tier },
  });
  const headerNames = Object.keys(binding.headers ?? {});
  const tries = binding.retries + 1;
  for (let n = 0; ; n++) {
    if (signal.aborted) throw abortError(signal);
    const names = headerNames.length > 0 ? ` with headers ${headerNames.join(', ')}` : '';
    context.log('info', `POST ${binding.url} (try ${n + 1} of ${tries})${names}`);
    const outcome = await tryOnce(context, body);
    if (!('error' in outcome)) return outcome;
    if (n + 1 >= tries) {
      if (tries === 1) throw outcome.error;
      const message = `${outcome.error.message} (after ${tries} tries)`;
      throw new ExecutionError(outcome.error.code, message, { cause: outcome.error });
    }
    const waitMs = outcome.waitMs ?? binding.retryDelayMs * 2 ** n;
    context.log('info', `${outcome.error.message}; retrying in ${waitMs} ms`);
    try {
      await sleep(waitMs, undefined, { signal });
    } catch {
      throw abortError(signal);
    }
  }
}

/** One POST: the result, a transient failure to retry, or (thrown) a final one. */
async function tryOnce(
  context: ExecutionContext & { binding: HttpBinding },
  body: string,
): Promise<ExecutionResult | Transient> {
  const { binding, signal } = context;
  const headers = new Headers(binding.headers);
  headers.set('content-type', 'application/json');
  const timeout = AbortSignal.timeout(binding.timeoutMs);
  const started = Date.now();
  let response: Response;
  let text: string;
  try {
    response = await fetch(binding.url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.any([timeout, signal]),
      // Following a 301/302 would turn the POST into a GET (and hand the headers to another host).
      redirect: 'manual',
    });
    text = await response.text();
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    if (timeout.aborted) {
      const message = `POST ${binding.url} did not answer within ${binding.timeoutMs} ms (timeoutMs)`;
      return { error: new ExecutionError('EXECUTOR_TIMEOUT', message) };
    }
    const reason =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    return {
      error: new ExecutionError('EXECUTOR_HTTP', `POST ${binding.url} failed: ${reason}`, { cause: error }),
    };
  }
  const status = response.status;
  context.log('info', `POST ${binding.url} answered ${status} in ${Date.now() - started} ms`);
  if (status >= 200 && status < 300) return toResult(context, response, text);
  const answered = `POST ${binding.url} answered ${status}: ${text.slice(0, BODY_IN_ERROR_CHARS)}`.trimEnd();
  if (status === 408 || status === 429 || status >= 500) {
    return { error: new ExecutionError('EXECUTOR_HTTP', answered), waitMs: retryAfter(response) };
  }
  throw new ExecutionError('EXECUTOR_HTTP', answered, { retryable: false });
}

/** A JSON body is the output, or `{output, usage}` gives both; any other body is text. */
function toResult(
  context: ExecutionContext & { binding: HttpBinding },
  response: Response,
  text: string,
): ExecutionResult {
  if (!/[/+]json\b/i.test(response.headers.get('content-type') ?? '')) return { output: text };
  if (text.trim() === '') return { output: null };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ExecutionError(
      'EXECUTOR_HTTP',
      `POST ${context.binding.url} answered ${response.status} with a JSON content type but a body that is not JSON`,
    );
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Object.hasOwn(body, 'output')) {
    return { output: body };
  }
  const { output, usage } = body as { output: unknown; usage?: unknown };
  if (usage === undefined) return { output };
  const parsed = TaskUsageSchema.safeParse(usage);
  if (parsed.success) return { output, usage: parsed.data };
  context.log('info', `ignored the usage it reported: ${z.prettifyError(parsed.error).replace(/\n/g, ' ')}`);
  return { output };
}

/** Retry-After, as seconds or an HTTP date, capped; undefined when absent or unreadable. */
function retryAfter(response: Response): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
