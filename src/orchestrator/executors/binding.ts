import type { z } from 'zod';
import { describeIssues, formatIssues } from '../../config/issues.ts';
import { ZiggieError } from '../../core/errors.ts';
import { ExecutionError } from './types.ts';

/**
 * What every executor shares: its binding checked with one zod schema, with errors in the config
 * style (`executor.<field>: <what is wrong> (got <value>)`), and the error a run stops with when
 * its signal aborts.
 */
export function parseBinding<S extends z.ZodType>(type: string, schema: S, binding: unknown): z.infer<S> {
  const result = schema.safeParse(binding);
  if (result.success) return result.data;
  const issues = describeIssues(result.error, binding, 'executor', schema);
  throw new ZiggieError('EXECUTOR_BINDING_INVALID', `${type} executor: ${formatIssues(issues)}`, { issues });
}

/** The error a run stops with when `signal` aborts: the runner's own reason when it gave one. */
export function abortError(signal: AbortSignal): ExecutionError {
  return signal.reason instanceof ExecutionError
    ? signal.reason
    : new ExecutionError('EXECUTOR_CANCELLED', 'the task was cancelled', { retryable: false });
}
