import type { Actor } from '../core/access.ts';

/** Who asks, for the transitions and the audit log. */
export interface TaskContext {
  actor: Actor;
  ip?: string | null;
}
