import type { z } from 'zod';

/** One validation problem: the key path, what was wrong and what is allowed. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Dotted key path (`mcpServers.github.args[0]`) under an optional prefix. */
export function keyPath(prefix: string, segments: readonly PropertyKey[]): string {
  let path = prefix;
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else path += path ? `.${String(segment)}` : String(segment);
  }
  return path;
}

function valueAt(input: unknown, segments: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of segments) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Zod issues as key-path messages. Unknown keys name each key; wrong values show the value that was
 * given (shortened) beside zod's description of what is allowed.
 */
export function describeIssues(error: z.ZodError, input: unknown, prefix = ''): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: keyPath(prefix, [...issue.path, key]),
        message: 'unknown key',
      }));
    }
    const value = valueAt(input, issue.path);
    const got = value === undefined ? '' : ` (got ${show(value)})`;
    return [{ path: keyPath(prefix, issue.path) || '(root)', message: `${issue.message}${got}` }];
  });
}

/** Issues as one line each, for error messages and the CLI. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n');
}
