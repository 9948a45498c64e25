import { describe, expect, it } from 'vitest';
import { checkParamHeaders, decodeParamValue, paramHeaderDeclarations } from './param-headers.ts';

const SCHEMA = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    limit: { type: 'integer', 'x-mcp-header': 'Limit' },
    dry: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
    target: { type: 'object', properties: { host: { type: 'string', 'x-mcp-header': 'Host-Name' } } },
    note: { type: 'string' },
    list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Not-Reachable' } },
  },
};
const declarations = paramHeaderDeclarations(SCHEMA);
const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

describe('Mcp-Param-* headers (SEP-2243)', () => {
  it('finds declarations on properties reachable through properties, nested too; not under items', () => {
    expect(declarations.map((d) => [d.path.join('.'), d.headerName, d.type])).toEqual([
      ['region', 'Region', 'string'],
      ['limit', 'Limit', 'integer'],
      ['dry', 'Dry-Run', 'boolean'],
      ['target.host', 'Host-Name', 'string'],
    ]);
    expect(paramHeaderDeclarations(SCHEMA)).toBe(declarations);
  });

  it('decodes Base64 sentinels as UTF-8, takes other values literally, refuses invalid Base64', () => {
    expect(decodeParamValue(b64('Zürich'))).toBe('Zürich');
    expect(decodeParamValue('SGVsbG8=')).toBe('SGVsbG8=');
    expect(decodeParamValue('=?base64?SGVsbG8=')).toBe('=?base64?SGVsbG8=');
    expect(decodeParamValue('=?base64?SGVsbG8?=')).toBeUndefined();
    expect(decodeParamValue('=?base64?SGVs!!!bG8=?=')).toBeUndefined();
    expect(decodeParamValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`)).toBeUndefined();
  });

  it('accepts headers that agree with the body (numbers compared as numbers)', () => {
    const args = { region: 'eu-west', limit: 42, dry: false, target: { host: 'Zürich' }, note: 'x' };
    const headers = {
      'mcp-param-region': 'eu-west',
      'mcp-param-limit': '42.0',
      'mcp-param-dry-run': 'false',
      'mcp-param-host-name': b64('Zürich'),
    };
    expect(checkParamHeaders(declarations, args, headers)).toBeUndefined();
  });

  it('expects no header for an argument that is absent or null', () => {
    expect(checkParamHeaders(declarations, { region: null }, {})).toBeUndefined();
    expect(checkParamHeaders(declarations, undefined, { 'mcp-param-region': 'ignored' })).toBeUndefined();
  });

  it.each([
    ['a missing header', { region: 'eu' }, {}, 'the Mcp-Param-Region header is absent'],
    ['a header that disagrees', { region: 'eu' }, { 'mcp-param-region': 'us' }, 'decodes to "us"'],
    ['invalid Base64', { region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVsbG8?=' }, 'invalid Base64'],
    ['a nested argument', { target: { host: 'a' } }, { 'mcp-param-host-name': 'b' }, 'target.host="a"'],
    ['a boolean', { dry: true }, { 'mcp-param-dry-run': 'false' }, 'dry=true'],
  ])('refuses %s with -32020 naming the header', (_what, args, headers, text) => {
    const refused = checkParamHeaders(declarations, args, headers);
    expect(refused).toMatchObject({ status: 400, code: -32020 });
    expect(refused?.message).toContain(text);
    expect(refused?.data.mismatch.header).toMatch(/^Mcp-Param-/);
  });
});
