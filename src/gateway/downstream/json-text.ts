/**
 * JSON text of large, immutable results, computed once. `tools/list` on an aggregate endpoint is
 * the same hundreds of kilobytes for every client until the catalog changes; the view marks that
 * result with `reuseJson` and the session transport writes its cached UTF-8 bytes
 * (`reusedJsonBytes`), so it is serialised and encoded once per catalog version instead of once per
 * request.
 */
const marked = new WeakSet<object>();
const texts = new WeakMap<object, string>();
const bytes = new WeakMap<object, Buffer>();

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

/** The UTF-8 bytes of `reusedJsonText(value)` (encoded on first use); undefined for unmarked values. */
export function reusedJsonBytes(value: unknown): Buffer | undefined {
  const text = reusedJsonText(value);
  if (text === undefined) return undefined;
  let encoded = bytes.get(value as object);
  if (encoded === undefined) {
    encoded = Buffer.from(text, 'utf8');
    bytes.set(value as object, encoded);
  }
  return encoded;
}
