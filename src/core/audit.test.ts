import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_ACTIONS,
  type AuditEntry,
  auditEntryHash,
  ChainVerifier,
  GENESIS_HASH,
  type HashedFields,
  normalizeDuration,
} from './audit.ts';

/** A chain of `n` entries built as the store builds it. */
function chain(n: number, firstId = 1, prevHash = GENESIS_HASH): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = prevHash;
  for (let i = 0; i < n; i++) {
    const fields: HashedFields = {
      id: firstId + i,
      time: new Date(1_700_000_000_000 + i * 1000),
      actor: { type: 'user', id: `u${i % 3}` },
      action: AUDIT_ACTIONS[i % AUDIT_ACTIONS.length] ?? 'TOOL_CALLED',
      entityType: 'agent',
      entityId: i % 4 === 0 ? null : `a${i}`,
      metadataJson: JSON.stringify({ i }),
      ip: i % 2 ? '127.0.0.1' : null,
      durationMs: i % 5 ? i * 1.5 : null,
      outcome: 'success',
      prevHash: prev,
    };
    prev = auditEntryHash(fields);
    out.push({ ...fields, hash: prev });
  }
  return out;
}

function verify(
  entries: AuditEntry[],
  head = { lastId: entries.at(-1)?.id ?? 0, lastHash: entries.at(-1)?.hash ?? GENESIS_HASH },
  anchor = { firstId: 1, prevHash: GENESIS_HASH },
) {
  const verifier = new ChainVerifier(anchor);
  for (const entry of entries) if (!verifier.push(entry)) break;
  return { broken: verifier.finish(head), checked: verifier.checked };
}

describe('auditEntryHash', () => {
  it('is a sha256 hex digest, stable for the same fields', () => {
    const [entry] = chain(1);
    expect(entry?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(entry && auditEntryHash(entry)).toBe(entry?.hash);
  });

  it.each([
    ['id', { id: 2 }],
    ['time', { time: new Date(1) }],
    ['actor type', { actor: { type: 'agent', id: 'u0' } }],
    ['actor id', { actor: { type: 'user', id: 'u9' } }],
    ['action', { action: 'AUTH_DENIED' }],
    ['entity type', { entityType: 'workspace' }],
    ['entity id', { entityId: 'x' }],
    ['metadata', { metadataJson: '{"i":1}' }],
    ['ip', { ip: '10.0.0.1' }],
    ['duration', { durationMs: 3 }],
    ['outcome', { outcome: 'failure' }],
    ['previous hash', { prevHash: 'f'.repeat(64) }],
  ] as const)('changes when the %s changes', (_, change) => {
    const [entry] = chain(1);
    if (!entry) throw new Error('no entry');
    expect(auditEntryHash({ ...entry, ...change })).not.toBe(entry.hash);
  });

  it('tells null from an empty string and from the text "null"', () => {
    const [entry] = chain(1);
    if (!entry) throw new Error('no entry');
    const hashes = new Set([
      auditEntryHash({ ...entry, entityId: null }),
      auditEntryHash({ ...entry, entityId: '' }),
      auditEntryHash({ ...entry, entityId: 'null' }),
    ]);
    expect(hashes.size).toBe(3);
  });
});

describe('normalizeDuration', () => {
  it('keeps microseconds and drops what is not a finite number', () => {
    expect(normalizeDuration(1.23456789)).toBe(1.235);
    expect(normalizeDuration(undefined)).toBeNull();
    expect(normalizeDuration(Number.NaN)).toBeNull();
    expect(normalizeDuration(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe('ChainVerifier', () => {
  it('accepts an intact chain, an empty one and one that starts at a later anchor', () => {
    expect(verify(chain(10))).toEqual({ broken: undefined, checked: 10 });
    expect(verify([])).toEqual({ broken: undefined, checked: 0 });
    const whole = chain(10);
    const kept = whole.slice(4);
    const anchor = { firstId: 5, prevHash: whole[3]?.hash ?? '' };
    expect(verify(kept, undefined, anchor).broken).toBeUndefined();
    // Everything pruned: the anchor sits just after the head.
    const last = whole.at(-1);
    expect(
      verify([], { lastId: 10, lastHash: last?.hash ?? '' }, { firstId: 11, prevHash: last?.hash ?? '' })
        .broken,
    ).toBeUndefined();
  });

  it('names an edited entry', () => {
    const entries = chain(10);
    entries[6] = { ...(entries[6] as AuditEntry), metadataJson: '{"i":"forged"}' };
    expect(verify(entries).broken).toMatchObject({ id: 7, reason: 'hash_mismatch' });
  });

  it('names an entry whose stored hash was rewritten to match its edit', () => {
    const entries = chain(10);
    const forged = { ...(entries[6] as AuditEntry), outcome: 'failure' };
    entries[6] = { ...forged, hash: auditEntryHash(forged) };
    // Entry 7 now hashes correctly, but entry 8 no longer follows it.
    expect(verify(entries).broken).toMatchObject({ id: 8, reason: 'prev_hash_mismatch' });
  });

  it('names the entry after a deleted one', () => {
    const entries = chain(10);
    entries.splice(3, 1);
    expect(verify(entries).broken).toMatchObject({ id: 5, reason: 'missing' });
    expect(verify(entries).broken?.message).toBe('entry 5: entry 4 is missing before it (deleted)');
  });

  it('names entries deleted at the end against the head', () => {
    const entries = chain(10);
    const head = { lastId: 10, lastHash: entries[9]?.hash ?? '' };
    expect(verify(entries.slice(0, 7), head).broken).toMatchObject({ id: 8, reason: 'truncated' });
  });

  it('names the first kept entry when the start of the log was deleted without retention', () => {
    expect(verify(chain(10).slice(2)).broken).toMatchObject({ id: 3, reason: 'missing' });
  });

  it('names reordered entries (ids swapped between rows)', () => {
    const entries = chain(10);
    const a = entries[4] as AuditEntry;
    const b = entries[5] as AuditEntry;
    entries[4] = { ...b, id: a.id };
    entries[5] = { ...a, id: b.id };
    expect(verify(entries).broken).toMatchObject({ id: 5, reason: 'prev_hash_mismatch' });
  });

  it('names an entry appended behind the head', () => {
    const entries = chain(10);
    const head = { lastId: 9, lastHash: entries[8]?.hash ?? '' };
    expect(verify(entries, head).broken).toMatchObject({ id: 10, reason: 'unexpected' });
  });

  it('ignores everything after the first break', () => {
    const entries = chain(10);
    entries[2] = { ...(entries[2] as AuditEntry), ip: '6.6.6.6' };
    entries[8] = { ...(entries[8] as AuditEntry), ip: '6.6.6.6' };
    expect(verify(entries)).toMatchObject({ broken: { id: 3 }, checked: 2 });
  });

  it('property: any single edit, deletion or swap is detected at the entry it touched', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('edit' as const), at: fc.nat(), text: fc.string() }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 30 }), mutation, (n, m) => {
        const entries = chain(n);
        const head = { lastId: n, lastHash: entries[n - 1]?.hash ?? '' };
        const at = m.at % n;
        let expectedId: number;
        if (m.kind === 'edit') {
          const original = entries[at] as AuditEntry;
          const metadataJson = JSON.stringify({ forged: m.text });
          entries[at] = { ...original, metadataJson };
          expectedId = at + 1;
        } else if (m.kind === 'delete') {
          entries.splice(at, 1);
          // The entry after the gap is named; deleting the last one is found against the head.
          expectedId = at + 1 === n ? n : at + 2;
        } else {
          const i = Math.min(at, n - 2);
          const a = entries[i] as AuditEntry;
          const b = entries[i + 1] as AuditEntry;
          entries[i] = { ...b, id: a.id };
          entries[i + 1] = { ...a, id: b.id };
          expectedId = i + 1;
        }
        const broken = verify(entries, head).broken;
        return broken !== undefined && broken.id === expectedId;
      }),
    );
  });
});
