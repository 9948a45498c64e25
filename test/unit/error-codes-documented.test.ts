import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.ts';

describe('error code registry', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.entries(ERROR_CODES))(
    '%s is documented with its HTTP status and JSON-RPC code',
    (code, info) => {
      const row = doc.split('\n').find((line) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(line));
      expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
      const cells = row?.split('|').map((c) => c.trim()) ?? [];
      expect(cells[2]).toBe(String(info.status));
      expect(cells[3]).toBe(String(info.jsonRpc));
    },
  );

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
