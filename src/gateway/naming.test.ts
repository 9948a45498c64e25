import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LLM_SAFE_NAME,
  llmSafeName,
  parseQualifiedResourceUri,
  qualifiedName,
  qualifiedResourceUri,
} from './naming.ts';

describe('qualifiedName', () => {
  it('prefixes with the server and separator', () => {
    expect(qualifiedName('everything', 'echo', '__')).toBe('everything__echo');
  });

  it('keeps valid names unchanged and rewrites invalid characters with a hash', () => {
    expect(llmSafeName('a-b_c')).toBe('a-b_c');
    const dotted = llmSafeName('fs__read.file');
    expect(dotted).toMatch(/^fs__read_file-[0-9a-f]{8}$/);
    expect(llmSafeName('fs__read/file')).not.toBe(dotted);
  });

  it('shortens long names deterministically to 64 characters', () => {
    const long = `server__${'x'.repeat(100)}`;
    const once = llmSafeName(long);
    expect(once).toHaveLength(64);
    expect(llmSafeName(long)).toBe(once);
    expect(llmSafeName(`${long}y`)).not.toBe(once);
  });

  it('always yields an LLM-safe name, and distinct inputs stay distinct', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 120 }),
        fc.string({ minLength: 1, maxLength: 120 }),
        (a, b) => {
          expect(llmSafeName(a)).toMatch(LLM_SAFE_NAME);
          if (a !== b) expect(llmSafeName(a)).not.toBe(llmSafeName(b));
        },
      ),
    );
  });
});

describe('resource URIs', () => {
  it('round-trips through the aggregate prefix, templates included', () => {
    const exposed = qualifiedResourceUri('everything', 'demo://resource/static/document/1');
    expect(exposed).toBe('ziggie://everything/demo://resource/static/document/1');
    expect(parseQualifiedResourceUri(exposed)).toEqual({
      server: 'everything',
      uri: 'demo://resource/static/document/1',
    });
    expect(qualifiedResourceUri('s', 'file:///{path}')).toBe('ziggie://s/file:///{path}');
  });

  it('rejects URIs that are not rewritten', () => {
    expect(parseQualifiedResourceUri('file:///etc/passwd')).toBeUndefined();
    expect(parseQualifiedResourceUri('ziggie:///x')).toBeUndefined();
  });
});
