import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowedTransitions,
  isTerminal,
  TASK_STATUSES,
  TASK_TRANSITIONS,
  type TaskCounters,
  type TaskStatus,
  transition,
} from './task-states.ts';

const task = (status: TaskStatus, over: Partial<TaskCounters> = {}): TaskCounters => ({
  status,
  attempts: 1,
  maxAttempts: 3,
  rejections: 0,
  ...over,
});

/** The table of DESIGN.md, written out again on purpose: the code must match the document. */
const LEGAL: Record<TaskStatus, TaskStatus[]> = {
  PENDING: ['ASSIGNED', 'CANCELLED'],
  ASSIGNED: ['IN_PROGRESS', 'CANCELLED'],
  IN_PROGRESS: ['REVIEW_REQUESTED', 'COMPLETED', 'FAILED', 'CANCELLED'],
  REVIEW_REQUESTED: ['APPROVED', 'REJECTED', 'CANCELLED'],
  APPROVED: ['COMPLETED'],
  REJECTED: ['ASSIGNED'],
  FAILED: ['ASSIGNED'],
  COMPLETED: [],
  CANCELLED: [],
};

describe('task state machine', () => {
  const pairs = TASK_STATUSES.flatMap((from) => TASK_STATUSES.map((to) => [from, to] as const));

  it.each(pairs)('%s → %s is legal exactly when the design table says so', (from, to) => {
    const legal = LEGAL[from].includes(to);
    expect(TASK_TRANSITIONS[from].includes(to)).toBe(legal);
    if (legal) {
      expect(transition(task(from), to).status).toBe(to);
    } else {
      expect(() => transition(task(from), to)).toThrow(
        expect.objectContaining({
          code: 'TASK_TRANSITION_INVALID',
          details: expect.objectContaining({ from, to }),
        }),
      );
    }
  });

  it('names the current state, the asked state and the allowed ones', () => {
    expect(() => transition(task('PENDING'), 'COMPLETED')).toThrow(
      'a task in PENDING cannot move to COMPLETED; allowed: ASSIGNED, CANCELLED',
    );
    expect(() => transition(task('COMPLETED'), 'ASSIGNED')).toThrow('COMPLETED is terminal');
  });

  it('retries a failure only while attempts remain; then FAILED is final', () => {
    expect(transition(task('FAILED', { attempts: 2, maxAttempts: 3 }), 'ASSIGNED').status).toBe('ASSIGNED');
    const exhausted = task('FAILED', { attempts: 3, maxAttempts: 3 });
    expect(isTerminal(exhausted)).toBe(true);
    expect(allowedTransitions(exhausted)).toEqual([]);
    expect(() => transition(exhausted, 'ASSIGNED')).toThrow('FAILED is final: all 3 attempts were used');
  });

  it('counts an attempt when work starts and a rejection when a rejected task is reassigned', () => {
    expect(transition(task('ASSIGNED', { attempts: 0 }), 'IN_PROGRESS').attempts).toBe(1);
    expect(transition(task('REJECTED', { rejections: 1 }), 'ASSIGNED').rejections).toBe(2);
    expect(transition(task('PENDING'), 'ASSIGNED')).toEqual(task('ASSIGNED'));
  });

  it('never reaches an illegal state, whatever operations are tried (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.constantFrom(...TASK_STATUSES), { maxLength: 60 }),
        (maxAttempts, asked) => {
          let current: TaskCounters = { status: 'PENDING', attempts: 0, maxAttempts, rejections: 0 };
          const seen: TaskStatus[] = ['PENDING'];
          for (const to of asked) {
            const before = current;
            try {
              current = transition(current, to);
            } catch {
              // A refused transition changes nothing.
              expect(current).toBe(before);
              continue;
            }
            expect(LEGAL[before.status]).toContain(current.status);
            // A failure is retried only while attempts remain.
            if (before.status === 'FAILED') expect(before.attempts).toBeLessThan(maxAttempts);
            seen.push(current.status);
          }
          // Once terminal, nothing moves it.
          if (isTerminal(current))
            for (const to of TASK_STATUSES) expect(() => transition(current, to)).toThrow();
          expect(seen.every((s) => TASK_STATUSES.includes(s))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
