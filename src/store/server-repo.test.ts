import { describe, expect, it } from 'vitest';
import type { UpstreamSpec } from '../core/upstream-spec.ts';
import { openStore } from './open-store.ts';
import { forEachDialect } from './test-stores.ts';

const stdio: UpstreamSpec = {
  name: 'files',
  transport: 'stdio',
  command: 'npx',
  args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'],
  env: { DEBUG: '1' },
  enabled: true,
  connect: 'eager',
  protocol: 'auto',
};

const remote: UpstreamSpec = {
  name: 'search',
  transport: 'http',
  url: 'https://mcp.example.com/mcp',
  headers: { authorization: 'Bearer t' },
  enabled: false,
  connect: 'lazy',
  protocol: '2026-07-28',
  timeoutMs: 5000,
};

describe('server repo', () => {
  forEachDialect(({ store, database }) => {
    it('stores, lists in name order, replaces and removes specs', async () => {
      const servers = store().servers;
      await servers.upsert(remote);
      await servers.upsert(stdio);
      expect(await servers.list()).toEqual([stdio, remote]);

      const moved = { ...stdio, args: ['/srv'], enabled: false };
      await servers.upsert(moved);
      expect(await servers.list()).toEqual([moved, remote]);

      expect(await servers.remove('files')).toBe(true);
      expect(await servers.remove('files')).toBe(false);
      expect(await servers.list()).toEqual([remote]);
      expect(await servers.remove('search')).toBe(true);
    });

    it('keeps created_at and moves updated_at on replace', async () => {
      const spec = { ...stdio, name: 'stamps' };
      await store().servers.upsert(spec);
      const [before] = await database().rawQuery(
        "select created_at, updated_at from upstream_servers where name = 'stamps'",
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store().servers.upsert({ ...spec, command: 'node' });
      const [after] = await database().rawQuery(
        "select created_at, updated_at from upstream_servers where name = 'stamps'",
      );
      expect(Number(after?.created_at)).toBe(Number(before?.created_at));
      expect(Number(after?.updated_at)).toBeGreaterThan(Number(before?.updated_at));
      await store().servers.remove('stamps');
    });

    it('skips stored rows that no longer validate, with a warning, instead of failing', async () => {
      await database().rawQuery(
        `insert into upstream_servers (name, spec_json, created_at, updated_at) values
          ('legacy', '{"name":"legacy","transport":"carrier-pigeon"}', 1, 1),
          ('garbled', '{not json', 1, 1)`,
      );
      const warnings: Array<{ details: Record<string, unknown>; message: string }> = [];
      const other = await database().open({
        logger: { warn: (details, message) => warnings.push({ details, message }) },
      });
      try {
        await other.servers.upsert(stdio);
        expect(await other.servers.list()).toEqual([stdio]);
        expect(warnings.map((warning) => warning.details.server).sort()).toEqual(['garbled', 'legacy']);
        expect(warnings.find((warning) => warning.details.server === 'legacy')?.message).toMatch(
          /no longer validates/,
        );
      } finally {
        await other.servers.remove('legacy');
        await other.servers.remove('garbled');
        await other.servers.remove('files');
        await other.close();
      }
    });
  });

  it('sees runtime servers again after a restart (SQLite file)', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = await mkdtemp(join(tmpdir(), 'ziggie-restart-'));
    try {
      const first = await openStore({ dataDir });
      await first.servers.upsert(remote);
      await first.close();
      const second = await openStore({ dataDir });
      expect(await second.servers.list()).toEqual([remote]);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
