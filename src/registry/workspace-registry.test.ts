import { describe, expect, it } from 'vitest';
import type { Actor } from '../core/access.ts';
import { forEachDialect } from '../store/test-stores.ts';
import { WorkspaceRegistry } from './workspace-registry.ts';

const alice: Actor = { type: 'user', id: 'alice' };
const ctx = { actor: alice, ip: '10.0.0.7' };

/** Tests share a database per dialect: each uses its own names and its own stretch of ports. */
describe('workspace registry', () => {
  forEachDialect(({ store, database, dialect }) => {
    const registry = () => new WorkspaceRegistry(store());
    const auditOf = async (name: string) =>
      (await store().audit.list({ entityType: 'workspace', entityId: name }, { limit: 50 })).items;

    it('creates a workspace with defaults and audits it in the same transaction', async () => {
      const created = await registry().create(
        { name: 'reg-a', path: '/w/a', portRange: [10_000, 10_009] },
        ctx,
      );
      expect(created).toMatchObject({
        name: 'reg-a',
        path: '/w/a',
        status: 'active',
        priority: 'P1',
        health: 'on-track',
        portRange: [10_000, 10_009],
        mcpServers: [],
        metadata: {},
        source: 'api',
      });
      expect(await registry().get('reg-a')).toEqual({
        ...created,
        ports: [],
        agents: { total: 0, byTier: {} },
      });
      const [entry] = await auditOf('reg-a');
      expect(entry).toMatchObject({
        action: 'WORKSPACE_CREATED',
        actor: alice,
        ip: '10.0.0.7',
        outcome: 'success',
      });
      expect(JSON.parse(entry?.metadataJson ?? '{}').workspace).toMatchObject({
        name: 'reg-a',
        portRange: [10_000, 10_009],
      });
    });

    it('refuses a duplicate name and unknown names', async () => {
      await registry().create({ name: 'reg-dup', path: '/w' }, ctx);
      await expect(registry().create({ name: 'reg-dup', path: '/other' }, ctx)).rejects.toMatchObject({
        code: 'WORKSPACE_EXISTS',
        message: 'a workspace named "reg-dup" already exists',
      });
      await expect(registry().get('reg-nope')).rejects.toMatchObject({ code: 'WORKSPACE_NOT_FOUND' });
      await expect(registry().update('reg-nope', { health: 'blocked' }, ctx)).rejects.toMatchObject({
        code: 'WORKSPACE_NOT_FOUND',
      });
      await expect(registry().allocatePort('reg-nope', null, ctx)).rejects.toMatchObject({
        code: 'WORKSPACE_NOT_FOUND',
      });
      expect(await auditOf('reg-dup')).toHaveLength(1);
    });

    it('refuses an overlapping port range, naming both workspaces, and writes nothing', async () => {
      await registry().create({ name: 'reg-ziggie', path: '/z', portRange: [11_000, 11_099] }, ctx);
      await expect(
        registry().create({ name: 'reg-fitflow', path: '/f', portRange: [11_050, 11_150] }, ctx),
      ).rejects.toMatchObject({
        code: 'WORKSPACE_PORT_OVERLAP',
        message:
          'port range 11050-11150 of workspace "reg-fitflow" overlaps workspace "reg-ziggie" (11000-11099)',
        details: { workspace: 'reg-fitflow', other: 'reg-ziggie' },
      });
      await expect(registry().get('reg-fitflow')).rejects.toMatchObject({ code: 'WORKSPACE_NOT_FOUND' });
      expect(await auditOf('reg-fitflow')).toEqual([]);
      // The same through an update.
      await registry().create({ name: 'reg-fitflow', path: '/f', portRange: [11_100, 11_199] }, ctx);
      await expect(
        registry().update('reg-fitflow', { portRange: [11_099, 11_120] }, ctx),
      ).rejects.toMatchObject({
        code: 'WORKSPACE_PORT_OVERLAP',
        message: expect.stringContaining('overlaps workspace "reg-ziggie" (11000-11099)'),
      });
    });

    it('hands out the next free port, reuses a released one and refuses when full', async () => {
      await registry().create({ name: 'reg-ports', path: '/p', portRange: [12_000, 12_002] }, ctx);
      const first = await registry().allocatePort('reg-ports', 'api', ctx);
      expect(first).toMatchObject({ port: 12_000, workspace: 'reg-ports', label: 'api' });
      expect((await registry().allocatePort('reg-ports', null, ctx)).port).toBe(12_001);
      expect((await registry().allocatePort('reg-ports', null, ctx)).port).toBe(12_002);
      await expect(registry().allocatePort('reg-ports', null, ctx)).rejects.toMatchObject({
        code: 'WORKSPACE_PORTS_EXHAUSTED',
        message:
          'every port of workspace "reg-ports" (12000-12002) is handed out; release one or widen the range',
      });
      await registry().releasePort('reg-ports', 12_001, ctx);
      expect((await registry().allocatePort('reg-ports', 'web', ctx)).port).toBe(12_001);
      expect((await registry().get('reg-ports')).ports.map((p) => [p.port, p.label])).toEqual([
        [12_000, 'api'],
        [12_001, 'web'],
        [12_002, null],
      ]);
      await expect(registry().releasePort('reg-ports', 12_999, ctx)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      const actions = (await auditOf('reg-ports')).map((e) => e.action);
      expect(actions.filter((a) => a === 'WORKSPACE_PORT_ALLOCATED')).toHaveLength(4);
      expect(actions.filter((a) => a === 'WORKSPACE_PORT_RELEASED')).toHaveLength(1);
    });

    it('refuses ports for a workspace without a range', async () => {
      await registry().create({ name: 'reg-norange', path: '/n' }, ctx);
      await expect(registry().allocatePort('reg-norange', null, ctx)).rejects.toMatchObject({
        code: 'WORKSPACE_PORTS_EXHAUSTED',
        message: 'workspace "reg-norange" has no port range to hand out ports from (set portRange)',
      });
    });

    it('refuses to move the range away from ports already handed out', async () => {
      await registry().create({ name: 'reg-move', path: '/m', portRange: [13_000, 13_009] }, ctx);
      await registry().allocatePort('reg-move', null, ctx);
      await expect(registry().update('reg-move', { portRange: [13_001, 13_009] }, ctx)).rejects.toMatchObject(
        {
          code: 'CONFLICT',
          message: 'workspace "reg-move" has ports 13000 handed out outside 13001-13009; release them first',
        },
      );
      // Widening is fine.
      expect((await registry().update('reg-move', { portRange: [13_000, 13_019] }, ctx)).portRange).toEqual([
        13_000, 13_019,
      ]);
    });

    it('updates only what changed and audits the changes; an empty change writes nothing', async () => {
      await registry().create({ name: 'reg-upd', path: '/u' }, ctx);
      const updated = await registry().update(
        'reg-upd',
        { health: 'at-risk', status: 'active', mcpServers: ['comfyui'] },
        ctx,
      );
      expect(updated).toMatchObject({ health: 'at-risk', status: 'active', mcpServers: ['comfyui'] });
      const unchanged = await registry().update('reg-upd', { health: 'at-risk' }, ctx);
      expect(unchanged.updatedAt).toEqual(updated.updatedAt);
      const entries = await auditOf('reg-upd');
      expect(entries.map((e) => e.action)).toEqual(['WORKSPACE_UPDATED', 'WORKSPACE_CREATED']);
      expect(JSON.parse(entries[0]?.metadataJson ?? '{}')).toEqual({
        changes: {
          health: { from: 'on-track', to: 'at-risk' },
          mcpServers: { from: [], to: ['comfyui'] },
        },
      });
      await expect(registry().update('reg-upd', { status: 'paused' }, ctx)).rejects.toMatchObject({
        name: 'ZodError',
      });
      await expect(registry().update('reg-upd', { name: 'renamed' }, ctx)).rejects.toMatchObject({
        name: 'ZodError',
      });
    });

    it('lists by name with filters and a cursor', async () => {
      for (const [name, priority] of [
        ['reg-l-c', 'P0'],
        ['reg-l-a', 'P2'],
        ['reg-l-b', 'P0'],
      ] as const) {
        await registry().create({ name, path: '/l', priority, metadata: { list: true } }, ctx);
      }
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await registry().list({ priority: 'P0' }, { limit: 1, cursor });
        names.push(...page.items.map((w) => w.name));
        cursor = page.nextCursor;
      } while (cursor);
      expect(names.filter((n) => n.startsWith('reg-l-'))).toEqual(['reg-l-b', 'reg-l-c']);
    });

    it('imports all or nothing: one overlap in the file leaves the registry as it was', async () => {
      const before = await store().workspaces.all();
      await expect(
        registry().import(
          {
            'reg-i-one': { path: '/1', portRange: [14_000, 14_099] },
            'reg-i-two': { path: '/2', portRange: [14_050, 14_150] },
          },
          ctx,
        ),
      ).rejects.toMatchObject({
        code: 'WORKSPACE_PORT_OVERLAP',
        message: expect.stringContaining('"reg-i-two"'),
      });
      expect(await store().workspaces.all()).toEqual(before);
      await expect(
        registry().import(
          [
            { name: 'reg-i-one', path: '/1' },
            { name: 'reg-i-one', path: '/1' },
          ],
          ctx,
        ),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: 'workspace "reg-i-one" is given twice' });
    });

    it('imports: creates the new, updates the given keys of the existing, may swap ranges', async () => {
      await registry().create(
        { name: 'reg-s-a', path: '/a', portRange: [15_000, 15_099], health: 'blocked' },
        ctx,
      );
      await registry().create({ name: 'reg-s-b', path: '/b', portRange: [15_100, 15_199] }, ctx);
      const result = await registry().import(
        [
          { name: 'reg-s-a', path: '/a', portRange: [15_100, 15_199] },
          { name: 'reg-s-b', path: '/b', portRange: [15_000, 15_099] },
          { name: 'reg-s-c', path: '/c', portRange: '15200-15299', priority: 'P0' },
        ],
        ctx,
      );
      expect(result).toEqual({ created: ['reg-s-c'], updated: ['reg-s-a', 'reg-s-b'] });
      expect(await registry().get('reg-s-a')).toMatchObject({
        portRange: [15_100, 15_199],
        health: 'blocked',
      });
      expect(await registry().get('reg-s-c')).toMatchObject({ portRange: [15_200, 15_299], priority: 'P0' });
      // Importing the same again changes nothing.
      expect(
        await registry().import(
          [{ name: 'reg-s-c', path: '/c', portRange: [15_200, 15_299], priority: 'P0' }],
          ctx,
        ),
      ).toEqual({ created: [], updated: [] });
    });

    it('declares config workspaces: created as config, later starts apply only the declared keys', async () => {
      const system: Actor = { type: 'system', id: 'ziggie' };
      await registry().declare({ 'reg-cfg': { path: '/cfg', portRange: [16_000, 16_099] } }, system);
      expect(await registry().get('reg-cfg')).toMatchObject({ source: 'config', health: 'on-track' });
      // Changed at run time, then Ziggie restarts with a changed path in ziggie.yaml.
      await registry().update('reg-cfg', { health: 'at-risk' }, ctx);
      await registry().declare({ 'reg-cfg': { path: '/cfg2', portRange: [16_000, 16_099] } }, system);
      expect(await registry().get('reg-cfg')).toMatchObject({
        path: '/cfg2',
        health: 'at-risk',
        source: 'config',
      });
      const [last] = await auditOf('reg-cfg');
      expect(last).toMatchObject({ action: 'WORKSPACE_UPDATED', actor: system });
      expect(JSON.parse(last?.metadataJson ?? '{}')).toEqual({
        changes: { path: { from: '/cfg', to: '/cfg2' } },
        source: 'config',
      });
    });

    it('two nodes allocating at once never hand out the same port', async () => {
      await registry().create({ name: 'reg-race', path: '/r', portRange: [17_000, 17_039] }, ctx);
      // SQLite: one process (the second node of a SQLite deployment is a separate process; see the audit test).
      const other = dialect === 'postgres' ? await database().open() : store();
      try {
        const a = new WorkspaceRegistry(store());
        const b = new WorkspaceRegistry(other);
        const ports = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).allocatePort('reg-race', null, ctx)),
        );
        expect(new Set(ports.map((p) => p.port)).size).toBe(40);
        await expect(a.allocatePort('reg-race', null, ctx)).rejects.toMatchObject({
          code: 'WORKSPACE_PORTS_EXHAUSTED',
        });
      } finally {
        if (other !== store()) await other.close();
      }
    });
  });
});
