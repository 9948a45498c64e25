import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  findOverlap,
  NewWorkspaceSchema,
  nextFreePort,
  type PortRange,
  PortRangeSchema,
  rangesOverlap,
  WorkspaceDeclarationSchema,
  WorkspacePatchSchema,
  workspaceChanges,
} from './workspace.ts';

const range = fc
  .tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 50 }))
  .map(([start, length]): PortRange => [start, start + length]);

describe('PortRangeSchema', () => {
  it.each([
    [
      [3000, 3099],
      [3000, 3099],
    ],
    ['3000-3099', [3000, 3099]],
    [' 3100 – 3199 ', [3100, 3199]],
    [
      [8080, 8080],
      [8080, 8080],
    ],
  ])('reads %j', (input, expected) => {
    expect(PortRangeSchema.parse(input)).toEqual(expected);
  });

  it.each([
    [[3099, 3000], 'the start of the range must not be above its end'],
    [[0, 10], 'Too small'],
    [[1, 70_000], 'Too big'],
    [[3000], 'expected [start, end]'],
    ['3000', 'expected [start, end]'],
    [[3000.5, 3001], 'expected int'],
  ])('refuses %j', (input, message) => {
    const result = PortRangeSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(message.split(' ')[0] ?? '');
  });
});

describe('workspace schemas', () => {
  it('fills the defaults of a new workspace', () => {
    expect(NewWorkspaceSchema.parse({ name: 'fitflow', path: '/src/fitflow' })).toEqual({
      name: 'fitflow',
      path: '/src/fitflow',
      status: 'active',
      priority: 'P1',
      health: 'on-track',
      metadata: {},
      portRange: null,
      mcpServers: [],
    });
  });

  it.each([
    [{ name: 'Fit Flow', path: 'x' }, 'name'],
    [{ name: 'x', path: '' }, 'path'],
    [{ name: 'x', path: 'p', status: 'paused' }, 'status'],
    [{ name: 'x', path: 'p', priority: 'P3' }, 'priority'],
    [{ name: 'x', path: 'p', health: 'fine' }, 'health'],
    [{ name: 'x', path: 'p', mcpServers: 'comfyui' }, 'mcpServers'],
    [{ name: 'x', path: 'p', colour: 'red' }, ''],
  ])('refuses %j (at %s)', (input, path) => {
    const result = NewWorkspaceSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join('.')).toBe(path);
  });

  it('a declaration keeps only the keys given; a patch may remove the range', () => {
    expect(WorkspaceDeclarationSchema.parse({ path: 'p', health: 'blocked' })).toEqual({
      path: 'p',
      health: 'blocked',
    });
    expect(WorkspacePatchSchema.parse({ portRange: null })).toEqual({ portRange: null });
    expect(WorkspaceDeclarationSchema.safeParse({ health: 'blocked' }).success).toBe(false);
  });
});

describe('rangesOverlap', () => {
  it('exhaustively on small ranges: overlap iff some port is in both', () => {
    const ranges: PortRange[] = [];
    for (let start = 1; start <= 6; start++) for (let end = start; end <= 6; end++) ranges.push([start, end]);
    for (const a of ranges) {
      for (const b of ranges) {
        let shared = false;
        for (let port = a[0]; port <= a[1]; port++) if (port >= b[0] && port <= b[1]) shared = true;
        expect(rangesOverlap(a, b), `${a} / ${b}`).toBe(shared);
      }
    }
  });

  it('property: symmetric, and every range overlaps itself', () => {
    fc.assert(
      fc.property(range, range, (a, b) => rangesOverlap(a, b) === rangesOverlap(b, a) && rangesOverlap(a, a)),
    );
  });
});

describe('findOverlap', () => {
  const others = [
    { name: 'ziggie', portRange: [3000, 3099] as PortRange },
    { name: 'fitflow', portRange: [3100, 3199] as PortRange },
    { name: 'docs', portRange: null },
  ];

  it('names the first workspace whose range shares a port', () => {
    expect(findOverlap('new', [3099, 3100], others)?.name).toBe('ziggie');
    expect(findOverlap('new', [3150, 3300], others)?.name).toBe('fitflow');
    expect(findOverlap('new', [3200, 3299], others)).toBeUndefined();
  });

  it('skips the workspace itself and workspaces without a range; no range overlaps nothing', () => {
    expect(findOverlap('ziggie', [3000, 3050], others)).toBeUndefined();
    expect(findOverlap('new', null, others)).toBeUndefined();
  });
});

describe('nextFreePort', () => {
  it('hands out the lowest free port, and none when all are taken', () => {
    expect(nextFreePort([3000, 3002], [])).toBe(3000);
    expect(nextFreePort([3000, 3002], [3000, 3002])).toBe(3001);
    expect(nextFreePort([3000, 3002], [3001, 3000, 3002])).toBeUndefined();
    expect(nextFreePort([3000, 3000], [2999, 3001])).toBe(3000);
  });

  it('property: the port is in the range, not taken, and every lower port of the range is taken', () => {
    fc.assert(
      fc.property(range, fc.array(fc.integer({ min: 0, max: 260 })), (r, taken) => {
        const port = nextFreePort(r, taken);
        const used = new Set(taken);
        if (port === undefined) {
          for (let p = r[0]; p <= r[1]; p++) if (!used.has(p)) return false;
          return true;
        }
        if (port < r[0] || port > r[1] || used.has(port)) return false;
        for (let p = r[0]; p < port; p++) if (!used.has(p)) return false;
        return true;
      }),
    );
  });
});

describe('workspaceChanges', () => {
  it('lists only the fields that differ, with before and after', () => {
    const current = NewWorkspaceSchema.parse({ name: 'w', path: 'p', portRange: [1, 5], metadata: { a: 1 } });
    expect(
      workspaceChanges(current, { path: 'p', health: 'blocked', portRange: [1, 5], metadata: { a: 2 } }),
    ).toEqual({ health: { from: 'on-track', to: 'blocked' }, metadata: { from: { a: 1 }, to: { a: 2 } } });
    expect(workspaceChanges(current, { portRange: null })).toEqual({ portRange: { from: [1, 5], to: null } });
    expect(workspaceChanges(current, {})).toEqual({});
  });
});
