import { ZiggieError } from '../core/errors.ts';

/**
 * Keyset pagination cursors: the sort key of the last item of a page, opaque to clients
 * (base64url of `<kind>:<key>`), so a page never skips or repeats rows when others are added.
 */

/** One page of a listing: the wire shape `{items, nextCursor}`; `nextCursor` null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(kind: string, key: string | number): string {
  return Buffer.from(`${kind}:${key}`, 'utf8').toString('base64url');
}

/** The key inside a cursor of `kind`; `VALIDATION_FAILED` for anything else. */
export function decodeCursor(kind: string, cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(`${kind}:`) || text.length === kind.length + 1) {
    throw new ZiggieError('VALIDATION_FAILED', 'cursor: not a cursor from this listing', {
      issues: [{ path: 'cursor', message: 'not a cursor from this listing' }],
    });
  }
  return text.slice(kind.length + 1);
}

/** A numeric cursor key (audit entry ids). */
export function decodeNumericCursor(kind: string, cursor: string): number {
  const key = decodeCursor(kind, cursor);
  const value = Number(key);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ZiggieError('VALIDATION_FAILED', 'cursor: not a cursor from this listing', {
      issues: [{ path: 'cursor', message: 'not a cursor from this listing' }],
    });
  }
  return value;
}
