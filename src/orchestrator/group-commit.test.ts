import { describe, expect, it } from 'vitest';
import type { StoreTx } from '../store/types.ts';
import { GroupCommit } from './group-commit.ts';

/** A fake transaction runner that records what each transaction did and rolls back on a throw. */
function recorder() {
  const committed: string[][] = [];
  let transactions = 0;
  const transact = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    transactions++;
    const writes: string[] = [];
    const value = await fn(writes as unknown as StoreTx);
    await new Promise((r) => setTimeout(r, 2));
    committed.push(writes);
    return value;
  };
  return { committed, transact, transactions: () => transactions };
}

const write = (name: string) => async (tx: StoreTx) => {
  (tx as unknown as string[]).push(name);
  if (name.startsWith('bad')) throw new Error(`${name} refused`);
  return name.toUpperCase();
};

describe('GroupCommit', () => {
  it('commits changes asked for meanwhile in one transaction, each caller getting its own result', async () => {
    const r = recorder();
    const group = new GroupCommit(r.transact);
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((n) => group.run(write(n))));
    expect(results).toEqual(['A', 'B', 'C', 'D']);
    // Asked for in the same turn of the event loop: one transaction.
    expect(r.committed).toEqual([['a', 'b', 'c', 'd']]);
    // One asked for while that commits goes in the next.
    const later = group.run(write('e'));
    const during = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return group.run(write('f'));
    })();
    expect(await Promise.all([later, during])).toEqual(['E', 'F']);
    expect(r.committed.slice(1)).toEqual([['e'], ['f']]);
  });

  it('reruns a batch one by one when a change in it throws: only the failed change is lost', async () => {
    const r = recorder();
    const group = new GroupCommit(r.transact);
    const outcomes = await Promise.allSettled(['a', 'b', 'bad-c', 'd'].map((n) => group.run(write(n))));
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      'A',
      'B',
      'bad-c refused',
      'D',
    ]);
    expect(r.committed).toEqual([['a'], ['b'], ['d']]);
    expect(r.transactions()).toBe(5);
  });

  it('bounds a batch', async () => {
    const r = recorder();
    const group = new GroupCommit(r.transact, 2);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => group.run(write(n))));
    expect(r.committed).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('runs a change again when PostgreSQL made it a deadlock victim', async () => {
    let calls = 0;
    const group = new GroupCommit(async (fn) => {
      calls++;
      if (calls === 1) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      return fn([] as unknown as StoreTx);
    });
    expect(await group.run(write('a'))).toBe('A');
    expect(calls).toBe(2);
    const never = new GroupCommit(async () => {
      throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
    });
    await expect(never.run(write('b'))).rejects.toThrow('deadlock detected');
  });
});
