import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import { Ziggie } from '../../src/ziggie.ts';
import { type Harness, startZiggie } from '../helpers/ziggie-harness.ts';

/** `/api/workspaces…` on a real Ziggie whose ziggie.yaml declares two workspaces. */
describe('workspaces REST API', () => {
  let harness: Harness;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${harness.baseUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    harness = await startZiggie({
      workspaces: {
        ziggie: {
          path: 'C:/Ziggie',
          portRange: [3000, 3099],
          priority: 'P0',
          mcpServers: ['comfyui', 'local_llm'],
        },
        fitflow: { path: 'C:/FitFlow', portRange: '3100-3199', status: 'planning' },
      },
    });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('serves the workspaces declared in ziggie.yaml', async () => {
    const { status, body } = await call('GET', '/api/workspaces');
    expect(status).toBe(200);
    expect(body).toEqual({
      items: [
        expect.objectContaining({
          name: 'fitflow',
          status: 'planning',
          priority: 'P1',
          portRange: [3100, 3199],
          source: 'config',
        }),
        expect.objectContaining({
          name: 'ziggie',
          path: 'C:/Ziggie',
          status: 'active',
          priority: 'P0',
          health: 'on-track',
          portRange: [3000, 3099],
          mcpServers: ['comfyui', 'local_llm'],
          metadata: {},
          source: 'config',
          createdAt: expect.any(String),
        }),
      ],
      nextCursor: null,
    });
  });

  it('creates, shows and changes a workspace', async () => {
    const created = await call('POST', '/api/workspaces', {
      name: 'simstudio',
      path: 'C:/SimStudio',
      status: 'discovery',
      priority: 'P2',
      portRange: [3300, 3399],
      mcpServers: ['simstudio'],
      metadata: { owner: 'sim-team' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'simstudio', source: 'api', metadata: { owner: 'sim-team' } });

    const changed = await call('PATCH', '/api/workspaces/simstudio', { health: 'at-risk', status: 'active' });
    expect(changed).toMatchObject({
      status: 200,
      body: { health: 'at-risk', status: 'active', priority: 'P2' },
    });

    const shown = await call('GET', '/api/workspaces/simstudio');
    expect(shown.body).toMatchObject({ name: 'simstudio', health: 'at-risk', ports: [] });

    const audit = await call('GET', '/api/audit?entityType=workspace&entityId=simstudio');
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual([
      'WORKSPACE_UPDATED',
      'WORKSPACE_CREATED',
    ]);
  });

  it('filters the listing and pages with a cursor', async () => {
    const p0 = await call('GET', '/api/workspaces?priority=P0');
    expect(p0.body.items.map((w: { name: string }) => w.name)).toEqual(['ziggie']);
    const first = await call('GET', '/api/workspaces?limit=1');
    expect(first.body.items).toHaveLength(1);
    const second = await call('GET', `/api/workspaces?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items[0].name > first.body.items[0].name).toBe(true);
  });

  it('refuses an overlapping range naming both workspaces (409 WORKSPACE_PORT_OVERLAP)', async () => {
    const { status, body } = await call('POST', '/api/workspaces', {
      name: 'meowping-nft',
      path: 'C:/MeowPing-NFT',
      portRange: [3050, 3060],
    });
    expect(status).toBe(409);
    expect(body.error).toEqual({
      code: 'WORKSPACE_PORT_OVERLAP',
      message: 'port range 3050-3060 of workspace "meowping-nft" overlaps workspace "ziggie" (3000-3099)',
      details: {
        workspace: 'meowping-nft',
        portRange: [3050, 3060],
        other: 'ziggie',
        otherPortRange: [3000, 3099],
      },
    });
  });

  it('hands out ports until the range is full (409 WORKSPACE_PORTS_EXHAUSTED)', async () => {
    await call('POST', '/api/workspaces', { name: 'tiny', path: '/tiny', portRange: [3500, 3501] });
    const a = await call('POST', '/api/workspaces/tiny/ports', { label: 'api' });
    expect(a).toMatchObject({ status: 201, body: { port: 3500, workspace: 'tiny', label: 'api' } });
    const b = await call('POST', '/api/workspaces/tiny/ports');
    expect(b).toMatchObject({ status: 201, body: { port: 3501, label: null } });
    const full = await call('POST', '/api/workspaces/tiny/ports', {});
    expect(full.status).toBe(409);
    expect(full.body.error.code).toBe('WORKSPACE_PORTS_EXHAUSTED');
    expect((await call('DELETE', '/api/workspaces/tiny/ports/3500')).status).toBe(204);
    expect((await call('POST', '/api/workspaces/tiny/ports', {})).body.port).toBe(3500);
    expect(
      (await call('GET', '/api/workspaces/tiny')).body.ports.map((p: { port: number }) => p.port),
    ).toEqual([3500, 3501]);
  });

  it('imports workspaces all or nothing', async () => {
    const ok = await call('POST', '/api/workspaces/import', {
      workspaces: {
        'ai-game-dev': { path: 'C:/ai-game-dev-system', portRange: [3200, 3299] },
        ziggie: { path: 'C:/Ziggie', health: 'at-risk' },
      },
    });
    expect(ok).toEqual({ status: 200, body: { created: ['ai-game-dev'], updated: ['ziggie'] } });
    const bad = await call('POST', '/api/workspaces/import', {
      workspaces: [
        { name: 'new-one', path: '/n', portRange: [3600, 3699] },
        { name: 'new-two', path: '/n', portRange: [3200, 3210] },
      ],
    });
    expect(bad.status).toBe(409);
    expect(bad.body.error.message).toContain('overlaps workspace "ai-game-dev"');
    expect((await call('GET', '/api/workspaces/new-one')).status).toBe(404);
  });

  it.each([
    ['POST', '/api/workspaces', { name: 'Bad Name', path: '/x' }, 400, 'VALIDATION_FAILED', 'name'],
    ['POST', '/api/workspaces', { name: 'nopath' }, 400, 'VALIDATION_FAILED', 'path'],
    [
      'POST',
      '/api/workspaces',
      { name: 'x', path: '/x', status: 'paused' },
      400,
      'VALIDATION_FAILED',
      'status',
    ],
    [
      'POST',
      '/api/workspaces',
      { name: 'x', path: '/x', priority: 'P9' },
      400,
      'VALIDATION_FAILED',
      'priority',
    ],
    ['POST', '/api/workspaces', { name: 'x', path: '/x', health: 'meh' }, 400, 'VALIDATION_FAILED', 'health'],
    [
      'POST',
      '/api/workspaces',
      { name: 'x', path: '/x', portRange: [9, 1] },
      400,
      'VALIDATION_FAILED',
      'portRange',
    ],
    [
      'POST',
      '/api/workspaces',
      { name: 'x', path: '/x', portRange: [1, 99_999] },
      400,
      'VALIDATION_FAILED',
      'portRange',
    ],
    ['POST', '/api/workspaces', { name: 'ziggie', path: '/again' }, 409, 'WORKSPACE_EXISTS', 'ziggie'],
    ['PATCH', '/api/workspaces/nowhere', { health: 'blocked' }, 404, 'WORKSPACE_NOT_FOUND', 'nowhere'],
    ['PATCH', '/api/workspaces/ziggie', { name: 'renamed' }, 400, 'VALIDATION_FAILED', 'name'],
    ['POST', '/api/workspaces/nowhere/ports', {}, 404, 'WORKSPACE_NOT_FOUND', 'nowhere'],
    ['POST', '/api/workspaces/ziggie/ports', { label: 7 }, 400, 'VALIDATION_FAILED', 'label'],
    ['DELETE', '/api/workspaces/ziggie/ports/80000', undefined, 400, 'VALIDATION_FAILED', 'port'],
    ['DELETE', '/api/workspaces/ziggie/ports/3099', undefined, 404, 'NOT_FOUND', '3099'],
    ['GET', '/api/workspaces?status=sleeping', undefined, 400, 'VALIDATION_FAILED', 'status'],
    ['GET', '/api/workspaces?cursor=nonsense', undefined, 400, 'VALIDATION_FAILED', 'cursor'],
    ['POST', '/api/workspaces/import', { workspaces: { x: {} } }, 400, 'VALIDATION_FAILED', 'path'],
  ])('%s %s %j → %i %s', async (method, path, body, status, code, mention) => {
    const answer = await call(method, path, body);
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(answer.body.error.message).toContain(mention);
  });
});

describe('workspaces declared in ziggie.yaml against the stored registry', () => {
  it('a declared range that overlaps a stored workspace stops Ziggie from starting, naming both', async () => {
    const first = await startZiggie({});
    try {
      await first.ziggie.workspaces.create(
        { name: 'late', path: '/late', portRange: [3700, 3799] },
        { actor: { type: 'user', id: 'u' } },
      );
      await first.ziggie.stop();
      const path = join(first.dir, 'restart.yaml');
      writeFileSync(
        path,
        stringify({
          server: { port: 0 },
          storage: { dataDir: first.dir },
          workspaces: { early: { path: '/early', portRange: [3750, 3760] } },
        }),
      );
      const config = await loadConfig({ path, env: {} });
      await expect(Ziggie.start(config, { logger: pino({ level: 'silent' }) })).rejects.toMatchObject({
        code: 'WORKSPACE_PORT_OVERLAP',
        message: 'port range 3750-3760 of workspace "early" overlaps workspace "late" (3700-3799)',
      });
    } finally {
      rmSync(first.dir, { recursive: true, force: true });
    }
  });
});
