import { describe, expect, it } from 'vitest';
import { forEachDialect } from './test-stores.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tool pin repo', () => {
  forEachDialect(({ store }) => {
    it('approves a tool on first sight', async () => {
      const before = Date.now();
      const pin = await store().toolPins.observe('pins-a', 'read', 'h1', '{"name":"read"}');
      expect(pin).toMatchObject({
        server: 'pins-a',
        tool: 'read',
        approvedHash: 'h1',
        currentHash: 'h1',
        currentDefinition: '{"name":"read"}',
        changedAt: null,
      });
      expect(pin.firstSeenAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(await store().toolPins.get('pins-a', 'read')).toEqual(pin);
    });

    it('leaves an unchanged tool as it was', async () => {
      const first = await store().toolPins.observe('pins-b', 'read', 'h1', 'd1');
      await sleep(3);
      expect(await store().toolPins.observe('pins-b', 'read', 'h1', 'd1')).toEqual(first);
    });

    it('records a changed definition as pending until approved', async () => {
      const pins = store().toolPins;
      const first = await pins.observe('pins-c', 'write', 'h1', 'd1');
      await sleep(3);
      const changed = await pins.observe('pins-c', 'write', 'h2', 'd2');
      expect(changed).toMatchObject({ approvedHash: 'h1', currentHash: 'h2', currentDefinition: 'd2' });
      expect(changed.firstSeenAt).toEqual(first.firstSeenAt);
      expect(changed.changedAt?.getTime()).toBeGreaterThan(first.firstSeenAt.getTime());

      // Seeing the same changed definition again does not move the time of the change.
      await sleep(3);
      expect((await pins.observe('pins-c', 'write', 'h2', 'd2')).changedAt).toEqual(changed.changedAt);

      // A second, different change does.
      await sleep(3);
      const changedAgain = await pins.observe('pins-c', 'write', 'h3', 'd3');
      expect(changedAgain.changedAt?.getTime()).toBeGreaterThan(changed.changedAt?.getTime() ?? 0);

      expect(await pins.approve('pins-c', 'write')).toBe(true);
      const approved = await pins.get('pins-c', 'write');
      expect(approved).toMatchObject({ approvedHash: 'h3', currentHash: 'h3', currentDefinition: 'd3' });
      expect(approved?.changedAt).toEqual(changedAgain.changedAt);
    });

    it('clears the pending state when the upstream reverts to the approved definition', async () => {
      const pins = store().toolPins;
      await pins.observe('pins-d', 'run', 'h1', 'd1');
      const changed = await pins.observe('pins-d', 'run', 'h2', 'd2');
      const reverted = await pins.observe('pins-d', 'run', 'h1', 'd1');
      expect(reverted).toMatchObject({ approvedHash: 'h1', currentHash: 'h1', currentDefinition: 'd1' });
      expect(reverted.changedAt).toEqual(changed.changedAt);
    });

    it('observes a whole listing at once, in order: new, unchanged and changed tools', async () => {
      const pins = store().toolPins;
      await pins.observe('pins-h', 'old', 'h1', 'd1');
      await pins.observe('pins-h', 'same', 's1', 's1');
      const observed = await pins.observeAll('pins-h', [
        { tool: 'new', hash: 'n1', definition: 'n1' },
        { tool: 'same', hash: 's1', definition: 's1' },
        { tool: 'old', hash: 'h2', definition: 'd2' },
      ]);
      expect(observed.map((pin) => [pin.tool, pin.approvedHash, pin.currentHash])).toEqual([
        ['new', 'n1', 'n1'],
        ['same', 's1', 's1'],
        ['old', 'h1', 'h2'],
      ]);
      expect(observed[2]?.changedAt).not.toBeNull();
      expect(await pins.observeAll('pins-h', [])).toEqual([]);
      expect((await pins.list('pins-h')).map((pin) => pin.tool)).toEqual(['new', 'old', 'same']);
    });

    it('answers false/undefined for unknown tools', async () => {
      expect(await store().toolPins.approve('pins-none', 'x')).toBe(false);
      expect(await store().toolPins.get('pins-none', 'x')).toBeUndefined();
    });

    it('lists pins ordered by server and tool, optionally for one server', async () => {
      const pins = store().toolPins;
      await pins.observe('pins-f', 'zeta', 'z', 'z');
      await pins.observe('pins-e', 'beta', 'b', 'b');
      await pins.observe('pins-e', 'alpha', 'a', 'a');
      expect((await pins.list('pins-e')).map((pin) => pin.tool)).toEqual(['alpha', 'beta']);
      const all = (await pins.list()).map((pin) => `${pin.server}/${pin.tool}`);
      expect(all.indexOf('pins-e/alpha')).toBeLessThan(all.indexOf('pins-e/beta'));
      expect(all.indexOf('pins-e/beta')).toBeLessThan(all.indexOf('pins-f/zeta'));
      expect(all).toEqual([...all].sort());
    });

    it('keeps one pin when the same new tool is observed concurrently', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store().toolPins.observe('pins-g', 'race', 'h1', 'd1')),
      );
      expect(new Set(results.map((pin) => pin.firstSeenAt.getTime())).size).toBe(1);
      expect(await store().toolPins.list('pins-g')).toHaveLength(1);
    });
  });
});
