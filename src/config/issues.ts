import type { z } from 'zod';

/** One validation problem: the key path, what was wrong and what is allowed. */
export interface ConfigIssue {
  path: string;
  message: string;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Dotted key path (`mcpServers.github.args[0]`) under an optional prefix. Keys that are not plain
 * words are quoted (`mcpServers["my server"]`) so the path stays unambiguous.
 */
export function keyPath(prefix: string, segments: readonly PropertyKey[]): string {
  let path = prefix;
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (!PLAIN_KEY.test(String(segment))) path += `[${JSON.stringify(String(segment))}]`;
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

/** A value as shown in a message: JSON, shortened. */
export function show(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `a string`, `a list`, `null`: a value described by its kind only (for secrets). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

/** env values, headers and database URLs carry secrets: their values are never echoed in a message. */
function isSecretPath(segments: readonly PropertyKey[]): boolean {
  if (segments.length === 2 && segments[0] === 'storage' && segments[1] === 'url') return true;
  const at = segments.findIndex((s) => s === 'env' || s === 'headers');
  return at >= 0 && at < segments.length - 1;
}

const KIND_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function bound(issue: { origin?: string; inclusive?: boolean }, value: unknown, words: [string, string]) {
  const [atLeast, above] = words;
  const n = Number(value);
  switch (issue.origin) {
    case 'string':
      return n === 1 && atLeast === 'at least' ? 'must not be empty' : `must be ${atLeast} ${n} characters`;
    case 'array':
      return `must have ${atLeast} ${n} items`;
    default:
      return `must be ${issue.inclusive === false ? above : atLeast} ${n}`;
  }
}

/** What is wrong, in plain words, for one zod issue. */
function describe(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'required';
      return `expected ${KIND_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      if (input === undefined) return `required, one of ${issue.values.map((v) => String(v)).join(', ')}`;
      return `expected one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      return bound(issue, issue.minimum, ['at least', 'greater than']);
    case 'too_big':
      return bound(issue, issue.maximum, ['at most', 'less than']);
    case 'invalid_format':
      if (issue.format === 'url') return 'expected a URL such as https://host/mcp';
      return issue.message;
    default:
      return issue.message;
  }
}

/** The keys a (possibly wrapped) zod object schema at `segments` accepts. */
function allowedKeys(schema: z.ZodType | undefined, segments: readonly PropertyKey[]): string[] {
  let node = schema as z.core.$ZodType | undefined;
  const unwrap = () => {
    for (;;) {
      const def = node?._zod.def as Record<string, unknown> | undefined;
      if (!def) return;
      if (['default', 'prefault', 'optional', 'nullable', 'readonly'].includes(def.type as string)) {
        node = def.innerType as z.core.$ZodType;
      } else if (def.type === 'pipe') {
        node = def.out as z.core.$ZodType;
      } else return;
    }
  };
  for (const segment of segments) {
    unwrap();
    const def = node?._zod.def as Record<string, unknown> | undefined;
    if (def?.type === 'object') node = (def.shape as Record<string, z.core.$ZodType>)[String(segment)];
    else if (def?.type === 'record') node = def.valueType as z.core.$ZodType;
    else if (def?.type === 'array') node = def.element as z.core.$ZodType;
    else return [];
  }
  unwrap();
  const def = node?._zod.def as Record<string, unknown> | undefined;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

/** Edit distance with adjacent transpositions (`prot` → `port` is 1), for "did you mean". */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] as number;
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      (d[i] as number[])[j] = best;
    }
  }
  return at(x.length, y.length);
}

/** `unknown key (did you mean "restart"?)` or `unknown key (allowed: a, b, c)`. */
export function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  if (allowed.length === 0) return 'unknown key';
  const [best] = [...allowed].sort((x, y) => distance(key, x) - distance(key, y));
  if (best !== undefined && distance(key, best) <= Math.max(1, Math.floor(best.length / 3))) {
    return `unknown key (did you mean "${best}"?)`;
  }
  return `unknown key (allowed: ${allowed.join(', ')})`;
}

/**
 * Zod issues as key-path messages: `<path>: <what is wrong> (got <value>)`. Unknown keys name each
 * key and suggest the nearest allowed one (`schema` is what was parsed, to know the allowed keys);
 * wrong values show the value that was given (shortened; only its kind under `env` and `headers`).
 */
export function describeIssues(
  error: z.ZodError,
  input: unknown,
  prefix = '',
  schema?: z.ZodType,
): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schema, issue.path);
      return issue.keys.map((key) => ({
        path: keyPath(prefix, [...issue.path, key]),
        message: unknownKeyMessage(key, allowed),
      }));
    }
    const value = valueAt(input, issue.path);
    const got = value === undefined ? '' : ` (got ${isSecretPath(issue.path) ? kindOf(value) : show(value)})`;
    return [{ path: keyPath(prefix, issue.path) || '(root)', message: `${describe(issue, value)}${got}` }];
  });
}

/** Issues on one line, `path: message; path: message`, for error messages and the CLI. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
}
