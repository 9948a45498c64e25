import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { NewAuditEntry } from '../../src/core/audit.ts';
import { connectClient } from '../helpers/mcp-client.ts';
import { connectModernClient } from '../helpers/modern-client.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/** `GET /api/audit`, `/api/audit/export`, `/api/audit/verify`, and what the gateway audits, on a real Ziggie. */
describe('audit REST API', () => {
  let harness: Harness;
  const api = (path: string, init?: RequestInit) => fetch(`${harness.baseUrl}${path}`, init);
  const json = async (path: string) => {
    const response = await api(path);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const send = (method: string, path: string, body?: unknown) =>
    api(path, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    harness = await startZiggie({ mcpServers: { everything: everythingStdio() } });
    const h = harness;
    await waitFor(() => h.ziggie.gateway.aggregateView().resolveTool('everything__echo') !== undefined);
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('records a tool call through the REST facade as TOOL_CALLED', async () => {
    const response = await send('POST', '/api/mcp/execute', {
      tool: 'everything__echo',
      arguments: { message: 'a' },
    });
    expect(response.status).toBe(200);
    await harness.ziggie.gateway.recorder.flush();
    const { body } = await json('/api/audit?action=TOOL_CALLED');
    expect(body.items).toEqual([
      expect.objectContaining({
        action: 'TOOL_CALLED',
        // Local mode (loopback, no credentials): requests act as the bootstrap admin.
        actor: { type: 'user', id: expect.stringMatching(/^usr_/) },
        entityType: 'tool',
        entityId: 'everything/echo',
        metadata: { server: 'everything', tool: 'echo', status: 'ok' },
        outcome: 'success',
        ip: '127.0.0.1',
        durationMs: expect.any(Number),
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);
  });

  it('records MCP tool calls (2025 sessions and 2026 stateless) with the caller as actor', async () => {
    const session = await connectClient(`${harness.baseUrl}/mcp`);
    const modern = await connectModernClient(`${harness.baseUrl}/mcp`);
    try {
      await session.client.callTool({ name: 'everything__echo', arguments: { message: 'via session' } });
      await modern.client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } });
    } finally {
      await session.close();
      await modern.close();
    }
    await harness.ziggie.gateway.recorder.flush();
    const { body } = await json('/api/audit?action=TOOL_CALLED&limit=2');
    const items = body.items as Array<{
      entityId: string;
      actor: { type: string; id: string };
      outcome: string;
    }>;
    expect(items.map((e) => [e.entityId, e.outcome])).toEqual([
      ['everything/get-sum', 'success'],
      ['everything/echo', 'success'],
    ]);
    // Local mode: every loopback caller acts as the bootstrap admin.
    for (const entry of items)
      expect(entry.actor).toEqual({ type: 'user', id: expect.stringMatching(/^usr_/) });
  });

  it('records servers added and removed at run time, without their secrets', async () => {
    const added = await send('POST', '/api/mcp/servers', {
      name: 'audited',
      url: 'http://127.0.0.1:9/mcp',
      headers: { Authorization: 'Bearer secret-token' },
      connect: 'lazy',
    } as Record<string, unknown>);
    expect(added.status).toBe(201);
    expect((await send('DELETE', '/api/mcp/servers/audited')).status).toBe(204);
    const { body } = await json('/api/audit?entityType=server&entityId=audited');
    const items = body.items as Array<{ action: string; metadata: unknown }>;
    expect(items.map((e) => e.action)).toEqual(['SERVER_REMOVED', 'SERVER_ADDED']);
    expect(JSON.stringify(items)).not.toContain('secret-token');
  });

  it('filters by actor, action list, time range and pages with a cursor', async () => {
    const t0 = Date.UTC(2031, 0, 1);
    const entries: NewAuditEntry[] = Array.from({ length: 12 }, (_, i) => ({
      actor: { type: 'agent', id: i % 2 ? 'odd' : 'even' },
      action: i % 3 ? 'TASK_STARTED' : 'TASK_COMPLETED',
      entityType: 'task',
      entityId: `t${i}`,
      time: new Date(t0 + i * 60_000),
    }));
    await harness.ziggie.store.audit.append(entries);
    const range = `since=${new Date(t0).toISOString()}&until=${t0 + 12 * 60_000}`;

    const odd = await json(`/api/audit?actor=agent:odd&${range}`);
    expect((odd.body.items as Array<{ entityId: string }>).map((e) => e.entityId)).toEqual([
      't11',
      't9',
      't7',
      't5',
      't3',
      't1',
    ]);
    const both = await json(`/api/audit?action=TASK_COMPLETED&action=TASK_STARTED&${range}&limit=100`);
    expect(both.body.items).toHaveLength(12);
    const completed = await json(`/api/audit?action=TASK_COMPLETED,AUTH_DENIED&${range}`);
    expect((completed.body.items as unknown[]).length).toBe(4);
    const early = await json(`/api/audit?${range.replace(/until=\d+/, `until=${t0 + 2 * 60_000}`)}`);
    expect((early.body.items as Array<{ entityId: string }>).map((e) => e.entityId)).toEqual(['t1', 't0']);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await json(`/api/audit?${range}&limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(page.body.items as Array<{ entityId: string }>).map((e) => e.entityId));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `t${11 - i}`));
  });

  it('records a refused credential as AUTH_DENIED', async () => {
    const refused = await api('/api/audit', { headers: { authorization: 'Bearer zk_not-a-real-key' } });
    expect(refused.status).toBe(401);
    await harness.ziggie.audit.flushQueue();
    const { body } = await json('/api/audit?action=AUTH_DENIED');
    expect(body.items).toEqual([
      expect.objectContaining({ action: 'AUTH_DENIED', outcome: 'denied', ip: '127.0.0.1' }),
    ]);
  });

  it.each([
    ['since=yesterday', 'since'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['cursor=bm9wZQ', 'cursor'],
    ['actor=alice', 'actor'],
    ['colour=red', 'colour'],
  ])('refuses ?%s with VALIDATION_FAILED naming %s', async (query, name) => {
    const { status, body } = await json(`/api/audit?${query}`);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining(name) });
  });

  it('refuses an unknown export format', async () => {
    const { status, body } = await json('/api/audit/export?format=xml');
    expect(status).toBe(400);
    expect(body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('format'),
    });
  });

  it('exports CSV and JSON as downloads', async () => {
    const csv = await api('/api/audit/export?format=csv&action=TOOL_CALLED');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="ziggie-audit-.+\.csv"$/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]?.startsWith('id,time,actorType,actorId,action,')).toBe(true);
    expect(lines.slice(1).every((line) => /,TOOL_CALLED,tool,everything\/(echo|get-sum),/.test(line))).toBe(
      true,
    );
    expect(lines).toHaveLength(4);

    const exported = await api('/api/audit/export?format=json&entityType=server');
    expect(exported.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await exported.json()) as Array<{ action: string }>;
    expect(body.map((e) => e.action)).toEqual(['SERVER_ADDED', 'SERVER_REMOVED']);
  });

  it('streams a large export: pages are read as the client reads, not all before the first byte', async () => {
    const audit = harness.ziggie.store.audit;
    for (let batch = 0; batch < 20; batch++) {
      await audit.append(
        Array.from({ length: 1000 }, (_, i) => ({
          actor: { type: 'key' as const, id: 'bulk' },
          action: 'TOOL_CALLED' as const,
          entityType: 'tool',
          entityId: `bulk/${batch}-${i}`,
          metadata: { padding: 'x'.repeat(200) },
        })),
      );
    }
    const scan = vi.spyOn(audit, 'scan');
    try {
      const response = await api('/api/audit/export?format=json&actor=key:bulk');
      const reader = response.body?.getReader();
      if (!reader) throw new Error('no body');
      const first = await reader.read();
      expect(first.done).toBe(false);
      // The client stops reading: backpressure stops the pages well before the end.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const whilePaused = scan.mock.calls.length;
      expect(whilePaused).toBeLessThan(20);
      let bytes = first.value?.byteLength ?? 0;
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        bytes += next.value.byteLength;
      }
      expect(scan.mock.calls.length).toBeGreaterThanOrEqual(20);
      expect(bytes).toBeGreaterThan(20_000 * 200);
    } finally {
      scan.mockRestore();
    }
  }, 60_000);

  it('verifies the chain, and names the first broken entry after a row is edited', async () => {
    const ok = await json('/api/audit/verify');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, anchor: { firstId: 1 } });
    const checked = ok.body.checked as number;
    expect(checked).toBeGreaterThan(20_000);

    const db = new DatabaseSync(join(harness.dir, 'ziggie.db'), { timeout: 5000 });
    try {
      db.prepare(`update audit_log set actor_id = 'forged' where id = 7`).run();
    } finally {
      db.close();
    }
    const broken = await json('/api/audit/verify');
    expect(broken.body).toMatchObject({ ok: false, checked: 6, broken: { id: 7, reason: 'hash_mismatch' } });
  });
});
