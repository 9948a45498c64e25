import { describe, expect, it } from 'vitest';
import type { Actor } from '../core/access.ts';
import { forEachDialect } from '../store/test-stores.ts';
import { AgentRegistry } from './agent-registry.ts';

const admin: Actor = { type: 'user', id: 'admin' };
const ctx = { actor: admin, ip: '127.0.0.1' };

/** Each test uses its own id prefix: the tests of a dialect share one database. */
describe('agent registry', () => {
  forEachDialect(({ store }) => {
    const registry = () => new AgentRegistry(store());
    const auditOf = async (id: string) =>
      (await store().audit.list({ entityType: 'agent', entityId: id }, { limit: 50 })).items;
    const ids = (page: { items: Array<{ id: string }> }) => page.items.map((a) => a.id);

    it('creates an agent with defaults, audited in the same transaction', async () => {
      const agent = await registry().create(
        { id: 'c.root', name: 'Ziggie', tier: 'L0', skills: ['coordination'] },
        ctx,
      );
      expect(agent).toEqual({
        id: 'c.root',
        name: 'Ziggie',
        tier: 'L0',
        team: null,
        workspace: null,
        parent: null,
        skills: ['coordination'],
        specialization: null,
        status: 'idle',
        capacity: 1,
        workload: 0,
        qualityScore: 100,
        tasksCompleted: 0,
        avgCompletionMs: null,
        executor: null,
        metadata: {},
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      });
      const [entry] = await auditOf('c.root');
      expect(entry).toMatchObject({ action: 'AGENT_CREATED', actor: admin, ip: '127.0.0.1' });
    });

    it('refuses each invalid create with its own code, and writes nothing', async () => {
      await registry().create({ id: 'v.lead', name: 'Lead', tier: 'L1' }, ctx);
      await registry().create({ id: 'v.worker', name: 'Worker', tier: 'L2', parent: 'v.lead' }, ctx);
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [
          { id: 'v.x', name: 'X', tier: 'L7' },
          'AGENT_TIER_UNKNOWN',
          'agent "v.x": unknown tier "L7" (tiers: L0, L1, L2, L3)',
        ],
        [{ id: 'v.lead', name: 'Again', tier: 'L1' }, 'AGENT_EXISTS', 'agent "v.lead" already exists'],
        [
          { id: 'v.x', name: 'X', tier: 'L3', parent: 'v.ghost' },
          'AGENT_PARENT_NOT_FOUND',
          'agent "v.x": parent "v.ghost" does not exist',
        ],
        [
          { id: 'v.x', name: 'X', tier: 'L1', parent: 'v.worker' },
          'AGENT_PARENT_TIER_INVALID',
          'agent "v.x" (L1): parent "v.worker" is L2, a lower tier; a parent must rank above its children (L0 > L1 > L2 > L3)',
        ],
        [
          { id: 'v.x', name: 'X', tier: 'L2', parent: 'v.worker' },
          'AGENT_PARENT_TIER_INVALID',
          'the same tier',
        ],
      ];
      for (const [input, code, message] of cases) {
        const error = await registry()
          .create(input, ctx)
          .catch((e: unknown) => e);
        expect(error, JSON.stringify(input)).toMatchObject({
          code,
          message: expect.stringContaining(message),
        });
      }
      await expect(registry().get('v.x')).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
      expect(await auditOf('v.x')).toEqual([]);
      for (const bad of [
        { id: 'has space', name: 'x', tier: 'L1' },
        { id: 'v.y', tier: 'L1' },
        { id: 'v.y', name: 'y', tier: 'L1', status: 'sleeping' },
        { id: 'v.y', name: 'y', tier: 'L1', capacity: -1 },
        { id: 'v.y', name: 'y', tier: 'L1', qualityScore: 101 },
        { id: 'v.y', name: 'y', tier: 'L1', executor: { command: 'x' } },
        { id: 'v.y', name: 'y', tier: 'L1', colour: 'red' },
      ]) {
        await expect(registry().create(bad, ctx), JSON.stringify(bad)).rejects.toMatchObject({
          name: 'ZodError',
        });
      }
    });

    it('refuses a re-parenting that would make a cycle, and a tier change below a child', async () => {
      await registry().create({ id: 'y.a', name: 'A', tier: 'L1' }, ctx);
      await registry().create({ id: 'y.b', name: 'B', tier: 'L2', parent: 'y.a' }, ctx);
      await registry().create({ id: 'y.c', name: 'C', tier: 'L3', parent: 'y.b' }, ctx);
      await expect(registry().update('y.a', { parent: 'y.c' }, ctx)).rejects.toMatchObject({
        code: 'AGENT_HIERARCHY_CYCLE',
        message: 'agent "y.a": parent "y.c" would make a cycle (y.a → y.c → y.b → y.a)',
      });
      await expect(registry().update('y.b', { parent: 'y.b' }, ctx)).rejects.toMatchObject({
        code: 'AGENT_HIERARCHY_CYCLE',
      });
      await expect(registry().update('y.b', { tier: 'L3' }, ctx)).rejects.toMatchObject({
        code: 'AGENT_PARENT_TIER_INVALID',
        message: expect.stringContaining('agent "y.c" (L3): parent "y.b" is L3'),
      });
      await expect(registry().update('y.b', { tier: 'L9' }, ctx)).rejects.toMatchObject({
        code: 'AGENT_TIER_UNKNOWN',
      });
      await expect(registry().update('y.none', { name: 'x' }, ctx)).rejects.toMatchObject({
        code: 'AGENT_NOT_FOUND',
      });
      expect((await registry().get('y.a')).parent).toBeNull();
    });

    it('updates, disables and enables, each audited with the seeds’ action names', async () => {
      await registry().create({ id: 'u.lead', name: 'Lead', tier: 'L1' }, ctx);
      await registry().create({ id: 'u.a', name: 'A', tier: 'L3', parent: 'u.lead', skills: ['x'] }, ctx);
      const updated = await registry().update('u.a', { tier: 'L2', skills: ['x', 'y'], capacity: 3 }, ctx);
      expect(updated).toMatchObject({ tier: 'L2', skills: ['x', 'y'], capacity: 3 });
      await registry().update('u.a', { status: 'disabled' }, ctx);
      expect(await registry().find('u.a')).toEqual({ tier: 'L2', disabled: true });
      await registry().update('u.a', { status: 'idle' }, ctx);
      // Nothing changes: nothing is written.
      await registry().update('u.a', { status: 'idle' }, ctx);
      const actions = (await auditOf('u.a')).map((e) => e.action);
      expect(actions).toEqual([
        'AGENT_ACTIVATED',
        'AGENT_DEACTIVATED',
        'AGENT_CONFIG_UPDATED',
        'AGENT_PERMISSION_CHANGED',
        'AGENT_CREATED',
      ]);
      const entries = await auditOf('u.a');
      expect(JSON.parse(entries[2]?.metadataJson ?? '{}')).toEqual({
        changes: { skills: { from: ['x'], to: ['x', 'y'] }, capacity: { from: 1, to: 3 } },
      });
      expect(await registry().find('u.none')).toBeUndefined();
    });

    it('queries by tier, team, skill, workspace, status and parent, with a cursor', async () => {
      const agents = [
        { id: 'q.lead', name: 'Lead', tier: 'L1', workspace: 'qa-ws', team: 'QA', skills: ['review'] },
        ...Array.from({ length: 12 }, (_, i) => ({
          id: `q.w${String(i).padStart(2, '0')}`,
          name: `W${i}`,
          tier: i % 2 ? 'L3' : 'L2',
          parent: i % 2 ? 'q.w00' : 'q.lead',
          workspace: i < 6 ? 'qa-ws' : 'other-ws',
          team: 'QA',
          skills: i % 3 === 0 ? ['python', 'review'] : ['python'],
          status: i === 4 ? 'blocked' : 'idle',
        })),
      ];
      expect(await registry().import({ agents }, ctx)).toEqual({ imported: 13 });
      const all = async (filter: Record<string, string>) => {
        const out: string[] = [];
        let cursor: string | null = null;
        do {
          const page = await registry().list(filter, { limit: 5, cursor });
          out.push(...ids(page));
          cursor = page.nextCursor;
        } while (cursor);
        return out.filter((id) => id.startsWith('q.'));
      };
      expect(await all({ team: 'QA' })).toHaveLength(13);
      expect(await all({ tier: 'L1', team: 'QA' })).toEqual(['q.lead']);
      expect(await all({ skill: 'review' })).toEqual(['q.lead', 'q.w00', 'q.w03', 'q.w06', 'q.w09']);
      expect(await all({ skill: 'review', workspace: 'qa-ws' })).toEqual(['q.lead', 'q.w00', 'q.w03']);
      expect(await all({ status: 'blocked' })).toEqual(['q.w04']);
      expect(await all({ parent: 'q.w00' })).toEqual(['q.w01', 'q.w03', 'q.w05', 'q.w07', 'q.w09', 'q.w11']);
      expect(await all({ workspace: 'nowhere' })).toEqual([]);
    });

    it('imports all or nothing: one bad agent leaves the registry unchanged', async () => {
      const good = Array.from({ length: 50 }, (_, i) => ({
        id: `i.a${i}`,
        name: `A${i}`,
        tier: 'L3',
        parent: 'i.lead',
      }));
      const attempts: Array<[unknown[], string]> = [
        [
          [{ id: 'i.lead', name: 'Lead', tier: 'L2' }, ...good, { id: 'i.bad', name: 'Bad', tier: 'L5' }],
          'AGENT_TIER_UNKNOWN',
        ],
        [
          [{ id: 'i.lead', name: 'Lead', tier: 'L2' }, ...good, { id: 'i.a3', name: 'Again', tier: 'L3' }],
          'AGENT_EXISTS',
        ],
        [[...good, { id: 'i.lead', name: 'Lead', tier: 'L2', parent: 'i.a7' }], 'AGENT_HIERARCHY_CYCLE'],
        [[{ id: 'i.lead', name: 'Lead', tier: 'L3' }, ...good], 'AGENT_PARENT_TIER_INVALID'],
        [good, 'AGENT_PARENT_NOT_FOUND'],
      ];
      for (const [agents, code] of attempts) {
        await expect(registry().import({ agents }, ctx), code).rejects.toMatchObject({ code });
      }
      expect(ids(await registry().list({ parent: 'i.lead' }, { limit: 100 }))).toEqual([]);
      await expect(registry().get('i.lead')).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
      // Children listed before their parent are fine.
      expect(
        await registry().import({ agents: [...good, { id: 'i.lead', name: 'Lead', tier: 'L2' }] }, ctx),
      ).toEqual({
        imported: 51,
      });
    });

    it('reports how many problems an import has, naming the first', async () => {
      const error = await registry()
        .import(
          {
            agents: [
              { id: 'p.a', name: 'a', tier: 'X' },
              { id: 'p.b', name: 'b', tier: 'Y' },
            ],
          },
          ctx,
        )
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'AGENT_TIER_UNKNOWN',
        message: 'agent "p.a": unknown tier "X" (tiers: L0, L1, L2, L3) (and 1 more problems)',
        details: { problems: [{ agent: 'p.a' }, { agent: 'p.b' }] },
      });
      await expect(registry().import({ agents: [{ id: 'p.a', tier: 'L1' }] }, ctx)).rejects.toMatchObject({
        name: 'ZodError',
        issues: [expect.objectContaining({ path: ['agents', 0, 'name'] })],
      });
    });

    it('serves the hierarchy as a tree (whole, one workspace, under one agent, to a depth)', async () => {
      await registry().import(
        {
          agents: [
            { id: 't.root', name: 'Root', tier: 'L0', workspace: 't-a' },
            { id: 't.l1', name: 'L1', tier: 'L1', parent: 't.root', workspace: 't-b' },
            { id: 't.l2', name: 'L2', tier: 'L2', parent: 't.l1', workspace: 't-b' },
            { id: 't.l3a', name: 'L3a', tier: 'L3', parent: 't.l2', workspace: 't-b' },
            { id: 't.l3b', name: 'L3b', tier: 'L3', parent: 't.l2', workspace: 't-b' },
          ],
        },
        ctx,
      );
      const under = await registry().tree({ root: 't.root' });
      expect(under.total).toBe(5);
      expect(under.roots[0]).toMatchObject({
        id: 't.root',
        children: [
          {
            id: 't.l1',
            children: [{ id: 't.l2', children: [{ id: 't.l3a', children: [] }, { id: 't.l3b' }] }],
          },
        ],
      });
      const workspace = await registry().tree({ workspace: 't-b' });
      expect(workspace.roots.map((r) => r.id)).toEqual(['t.l1']);
      const shallow = await registry().tree({ root: 't.root', depth: 1 });
      expect(shallow).toMatchObject({
        total: 2,
        roots: [{ id: 't.root', children: [{ id: 't.l1', children: [] }] }],
      });
      await expect(registry().tree({ root: 't.none' })).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
      const whole = await registry().tree({});
      expect(whole.roots.map((r) => r.id)).toContain('t.root');
      expect(whole.roots.map((r) => r.id)).not.toContain('t.l1');
    });
  });
});
