import { describe, expect, it } from 'vitest';
import { TaskIdSealer } from './sealed-task-id.ts';

describe('sealed task ids', () => {
  const sealer = new TaskIdSealer();
  const ref = { server: 'reports', taskId: 'task-42' };

  it('opens for the owner it was sealed for, and shows neither the upstream nor its task', () => {
    const id = sealer.seal(ref, 'user:ada');
    expect(TaskIdSealer.isSealed(id)).toBe(true);
    expect(id).not.toContain('reports');
    expect(id).not.toContain('task-42');
    expect(sealer.open(id, 'user:ada')).toEqual(ref);
    // A fresh nonce each time: the same task sealed twice gives two ids.
    expect(sealer.seal(ref, 'user:ada')).not.toBe(id);
  });

  it('does not open for another owner, another key, or an altered id', () => {
    const id = sealer.seal(ref, 'user:ada');
    expect(sealer.open(id, 'user:eve')).toBeUndefined();
    expect(new TaskIdSealer().open(id, 'user:ada')).toBeUndefined();
    const body = Buffer.from(id.slice(4), 'base64url');
    for (const at of [0, 12, body.length - 1]) {
      const altered = Buffer.from(body);
      altered[at] = (altered[at] ?? 0) ^ 1;
      expect(sealer.open(`zt1.${altered.toString('base64url')}`, 'user:ada')).toBeUndefined();
    }
  });

  it('refuses what is not a sealed id', () => {
    for (const id of [
      '',
      'zt1.',
      'zt1.AAAA',
      '3f1c2a9e-0000-4000-8000-000000000000',
      `zt1.${'A'.repeat(5000)}`,
    ]) {
      expect(sealer.open(id, 'user:ada')).toBeUndefined();
    }
    expect(TaskIdSealer.isSealed('3f1c2a9e-0000-4000-8000-000000000000')).toBe(false);
  });
});
