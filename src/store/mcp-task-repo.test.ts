import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { forEachDialect } from './test-stores.ts';
import type { NewMcpTask } from './types.ts';

const newTask = (overrides: Partial<NewMcpTask> = {}): NewMcpTask => ({
  id: randomUUID(),
  owner: 'alice',
  tool: 'srv__count',
  status: 'working',
  createdAt: new Date(),
  expiresAt: new Date(Date.now() + 60_000),
  runner: 'runner-a',
  leaseUntil: new Date(Date.now() + 60_000),
  ...overrides,
});

describe('MCP task repo', () => {
  forEachDialect(({ store, database }) => {
    it('creates a task and reads it back for its owner only', async () => {
      const created = await store().mcpTasks.create(newTask({ statusMessage: 'started' }));
      expect(created).toMatchObject({
        owner: 'alice',
        tool: 'srv__count',
        status: 'working',
        statusMessage: 'started',
        result: null,
        error: null,
      });
      expect(created.updatedAt).toEqual(created.createdAt);
      expect(await store().mcpTasks.get(created.id, 'alice')).toEqual(created);
      expect(await store().mcpTasks.get(created.id, 'bob')).toBeUndefined();
      expect(await store().mcpTasks.get('no-such-task', 'alice')).toBeUndefined();
    });

    it('moves an in-flight task and keeps its outcome as JSON', async () => {
      const tasks = store().mcpTasks;
      const { id } = await tasks.create(newTask());
      expect(await tasks.transition(id, { status: 'input_required', statusMessage: 'asks' })).toBe(true);
      expect((await tasks.get(id, 'alice'))?.status).toBe('input_required');
      expect(await tasks.transition(id, { status: 'working' })).toBe(true);
      const result = { content: [{ type: 'text', text: 'done' }], structuredContent: { n: 3 } };
      expect(await tasks.transition(id, { status: 'completed', result })).toBe(true);
      const done = await tasks.get(id, 'alice');
      expect(done).toMatchObject({ status: 'completed', statusMessage: null, result, error: null });
      expect(done?.updatedAt.getTime()).toBeGreaterThanOrEqual(done?.createdAt.getTime() ?? Infinity);
    });

    it('never changes a terminal task again', async () => {
      const tasks = store().mcpTasks;
      const { id } = await tasks.create(newTask());
      expect(await tasks.transition(id, { status: 'cancelled', statusMessage: 'by the client' })).toBe(true);
      expect(await tasks.transition(id, { status: 'completed', result: { content: [] } })).toBe(false);
      expect(await tasks.transition(id, { status: 'working' })).toBe(false);
      expect(await tasks.get(id, 'alice')).toMatchObject({
        status: 'cancelled',
        statusMessage: 'by the client',
        result: null,
      });
      expect(await tasks.transition('no-such-task', { status: 'working' })).toBe(false);
    });

    it('fails the in-flight tasks whose lease ran out, and only those', async () => {
      const tasks = store().mcpTasks;
      const now = Date.now();
      const lapsed = { owner: 'recover', leaseUntil: new Date(now - 1) };
      const working = await tasks.create(newTask(lapsed));
      const waiting = await tasks.create(newTask({ ...lapsed, status: 'input_required' }));
      const completed = await tasks.create(newTask(lapsed));
      await tasks.transition(completed.id, { status: 'completed', result: { content: [] } });
      const leased = await tasks.create(newTask({ owner: 'recover', leaseUntil: new Date(now + 60_000) }));
      const error = { code: -32603, message: 'runner gone', data: { reason: 'runner_lost' } };
      expect(await tasks.failAbandoned(new Date(now), 'its runner is gone', error)).toBeGreaterThanOrEqual(2);
      for (const { id } of [working, waiting]) {
        expect(await tasks.get(id, 'recover')).toMatchObject({
          status: 'failed',
          statusMessage: 'its runner is gone',
          error,
        });
      }
      expect((await tasks.get(completed.id, 'recover'))?.status).toBe('completed');
      expect((await tasks.get(leased.id, 'recover'))?.status).toBe('working');
      expect(await tasks.failAbandoned(new Date(now), 'again', error)).toBe(0);
    });

    it("renews the leases of a runner's in-flight tasks only", async () => {
      const tasks = store().mcpTasks;
      const old = new Date(Date.now() + 1_000);
      const mine = await tasks.create(newTask({ owner: 'lease', runner: 'runner-b', leaseUntil: old }));
      const done = await tasks.create(newTask({ owner: 'lease', runner: 'runner-b', leaseUntil: old }));
      await tasks.transition(done.id, { status: 'completed', result: { content: [] } });
      const other = await tasks.create(newTask({ owner: 'lease', runner: 'runner-c', leaseUntil: old }));
      const until = new Date(Date.now() + 120_000);
      expect(await tasks.renewLeases('runner-b', until)).toBe(1);
      expect((await tasks.get(mine.id, 'lease'))?.leaseUntil).toEqual(until);
      expect((await tasks.get(done.id, 'lease'))?.leaseUntil).toEqual(old);
      expect((await tasks.get(other.id, 'lease'))?.leaseUntil).toEqual(old);
    });

    it('deletes expired tasks and keeps the others', async () => {
      const tasks = store().mcpTasks;
      const now = Date.now();
      const expired = await tasks.create(newTask({ owner: 'sweep', expiresAt: new Date(now - 1) }));
      const fresh = await tasks.create(newTask({ owner: 'sweep', expiresAt: new Date(now + 60_000) }));
      const forever = await tasks.create(newTask({ owner: 'sweep', expiresAt: null }));
      expect(await tasks.deleteExpired(new Date(now))).toBeGreaterThanOrEqual(1);
      expect(await tasks.get(expired.id, 'sweep')).toBeUndefined();
      expect(await tasks.get(fresh.id, 'sweep')).toBeDefined();
      expect((await tasks.get(forever.id, 'sweep'))?.expiresAt).toBeNull();
    });

    it('refuses a status outside the extension', async () => {
      await expect(
        database().rawQuery(
          "insert into mcp_tasks (id, owner, tool, status, created_at, updated_at, runner, lease_until) values ('x', 'o', 't', 'done', 1, 1, 'r', 1)",
        ),
      ).rejects.toThrow(/check/i);
    });
  });
});
