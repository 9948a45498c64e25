/**
 * JSON text of large, immutable results, computed once. `tools/list` on an aggregate endpoint is
 * the same hundreds of kilobytes for every client until the catalog changes; the view marks that
 * result with `reuseJson` and the session transport writes it with `reusedJsonText`, so it is
 * serialised once per catalog version instead of once per request.
 */
const marked = new WeakSet<object>();
const texts = new WeakMap<object, string>();

/** Marks `value` (frozen: it must not change any more) to be serialised once and reused. */
export function reuseJson<T extends object>(value: T): Readonly<T> {
  marked.add(Object.freeze(value));
  return value;
}

/** The JSON text of a value marked with `reuseJson` (computed on first use); undefined for others. */
export function reusedJsonText(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !marked.has(value)) return undefined;
  let text = texts.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    texts.set(value, text);
  }
  return text;
}
