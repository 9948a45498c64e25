import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { forEachDialect } from '../store/test-stores.ts';
import { AgentRegistry } from './agent-registry.ts';

/** examples/agents.yaml: the seeds' hierarchy, imported on both databases. */
const text = readFileSync('examples/agents.yaml', 'utf8');
const document = parse(text) as { agents: Array<Record<string, unknown>> };

describe('examples/agents.yaml', () => {
  it('is what examples/generate-agents.ts writes', () => {
    const generated = execFileSync(process.execPath, ['examples/generate-agents.ts'], { encoding: 'utf8' });
    expect(generated).toBe(text);
  });

  it('holds the seeds’ hierarchy: L0 Ziggie, the named leads, BMAD, the 14 Elite, 8 × 8 under each lead', () => {
    const agents = document.agents;
    expect(agents).toHaveLength(1840);
    const count = (predicate: (a: Record<string, unknown>) => boolean) => agents.filter(predicate).length;
    expect(count((a) => a.tier === 'L0')).toBe(1);
    expect(count((a) => a.tier === 'L1')).toBe(22 + 3 + 14);
    expect(count((a) => a.tier === 'L2')).toBe(25 * 8);
    expect(count((a) => a.tier === 'L3')).toBe(25 * 64);
    expect(count((a) => a.team === 'BMAD')).toBe(3);
    expect(count((a) => String(a.team).startsWith('Elite-'))).toBe(14);
    const names = new Set(agents.map((a) => a.name));
    for (const name of [
      'Ziggie',
      'Art Director',
      'Character Pipeline',
      'Environment Pipeline',
      'Game Systems',
      'UI/UX',
    ]) {
      expect(names).toContain(name);
    }
    for (const name of [
      'Content Designer',
      'Integration',
      'QA',
      'Product Manager',
      'Backend Dev',
      'AI Specialist',
    ]) {
      expect(names).toContain(name);
    }
    for (const name of [
      'BMAD Backend',
      'BMAD Frontend',
      'BMAD E2E',
      'ARTEMIS',
      'MAXIMUS',
      'ATLAS',
      'DAEDALUS',
    ]) {
      expect(names).toContain(name);
    }
  });

  forEachDialect(({ store }) => {
    it('imports whole, and the registry answers for it', async () => {
      const registry = new AgentRegistry(store());
      const started = performance.now();
      expect(await registry.import(document, { actor: { type: 'system', id: 'test' } })).toEqual({
        imported: 1840,
      });
      // Not a benchmark (bench/registry is); a bound that catches a per-agent round trip creeping in.
      expect(performance.now() - started).toBeLessThan(15_000);

      const tree = await registry.tree({ root: 'ziggie' });
      expect(tree.total).toBe(1840);
      expect(tree.roots[0]?.children).toHaveLength(22 + 3 + 14);
      const fitflow = await registry.list({ workspace: 'fitflow', tier: 'L1' }, { limit: 100 });
      expect(fitflow.items.map((a) => a.name)).toEqual([
        'AI Specialist',
        'Backend Dev',
        'Frontend Dev',
        'Product Manager',
        'QA',
      ]);
      const elite = await registry.list({ skill: 'vfx' }, { limit: 10 });
      expect(elite.items.map((a) => a.id)).toEqual(['elite.vulcan']);
      // Every agent is on record.
      const created = await store().audit.list({ actions: ['AGENT_CREATED'] }, { limit: 1 });
      expect(created.items[0]?.metadataJson).toContain('"import":"import-');
      // A second import of the same file is refused as a whole.
      await expect(
        registry.import(document, { actor: { type: 'system', id: 'test' } }),
      ).rejects.toMatchObject({
        code: 'AGENT_EXISTS',
        message: 'agent "ziggie" already exists (and 1839 more problems)',
      });
    });
  });
});
