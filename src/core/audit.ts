import { createHash } from 'node:crypto';
import type { Actor } from './access.ts';

/**
 * The audit log's vocabulary and its hash chain. Pure: the store keeps the entries, the audit
 * service walks them; what an entry hashes to and what a valid chain is are decided here.
 */

/**
 * The actions Ziggie records. The seeds' names first (DESIGN.md), then the ones Ziggie needs.
 * Names are stable: an entry written once keeps its action forever. New ones go at the end.
 */
export const AUDIT_ACTIONS = [
  'TASK_CREATED',
  'TASK_DELEGATED',
  'TASK_STARTED',
  'TASK_COMPLETED',
  'TASK_FAILED',
  'ASSET_GENERATED',
  'ASSET_APPROVED',
  'ASSET_REJECTED',
  'ASSET_DELETED',
  'AGENT_ACTIVATED',
  'AGENT_DEACTIVATED',
  'AGENT_PERMISSION_CHANGED',
  'AGENT_CONFIG_UPDATED',
  'WORKFLOW_STARTED',
  'WORKFLOW_COMPLETED',
  'WORKFLOW_FAILED',
  'SYSTEM_ERROR',
  'RATE_LIMIT_EXCEEDED',
  // Gateway
  'TOOL_CALLED',
  'TOOL_APPROVED',
  'SERVER_ADDED',
  'SERVER_REMOVED',
  // Identities
  'AUTH_DENIED',
  'AUTH_LOGIN',
  'AUTH_LOGOUT',
  'USER_CREATED',
  'USER_UPDATED',
  'KEY_CREATED',
  'KEY_REVOKED',
  // Registry
  'WORKSPACE_CREATED',
  'WORKSPACE_UPDATED',
  'WORKSPACE_PORT_ALLOCATED',
  'WORKSPACE_PORT_RELEASED',
  'AGENT_CREATED',
  // The log itself
  'AUDIT_PRUNED',
  // Tasks (beside the seeds' TASK_* above)
  'TASK_REVIEW_REQUESTED',
  'TASK_APPROVED',
  'TASK_REJECTED',
  'TASK_CANCELLED',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** How an audited action ended. */
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** What a caller appends; the store assigns `id`, `prevHash` and `hash`. */
export interface NewAuditEntry {
  actor: Actor;
  action: AuditAction;
  /** What was acted on: `workspace`, `agent`, `tool`, `server`, … */
  entityType: string;
  entityId?: string | null;
  metadata?: Record<string, unknown>;
  ip?: string | null;
  durationMs?: number | null;
  /** Default `success`. */
  outcome?: AuditOutcome;
  /** Default: when it is appended. */
  time?: Date;
}

/**
 * One stored entry. `id` is its position in the chain (1, 2, 3, … with no gaps); `hash` covers every
 * other field and `prevHash`, so editing, deleting or reordering rows breaks the chain.
 */
export interface AuditEntry {
  id: number;
  time: Date;
  actor: Actor;
  /** An `AuditAction`, or a name written by a newer Ziggie. */
  action: string;
  entityType: string;
  entityId: string | null;
  /** The metadata exactly as stored (JSON text); hashed as is. */
  metadataJson: string;
  ip: string | null;
  durationMs: number | null;
  outcome: string;
  prevHash: string;
  hash: string;
}

/** The hash before the first entry ever written. */
export const GENESIS_HASH = '0'.repeat(64);

/** The hashed fields of an entry (all but `hash`). */
export type HashedFields = Omit<AuditEntry, 'hash'>;

/**
 * sha256 (hex) over a canonical JSON array of the entry's fields and the previous hash. An array,
 * not an object: no key order to agree on. Metadata is hashed as the stored text.
 */
export function auditEntryHash(entry: HashedFields): string {
  const canonical = JSON.stringify([
    1, // version of this layout
    entry.id,
    entry.time.getTime(),
    entry.actor.type,
    entry.actor.id,
    entry.action,
    entry.entityType,
    entry.entityId,
    entry.metadataJson,
    entry.ip,
    entry.durationMs,
    entry.outcome,
    entry.prevHash,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Durations are kept to the microsecond, so the stored double reads back as exactly the number that
 * was hashed on both databases.
 */
export function normalizeDuration(ms: number | null | undefined): number | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  return Math.round(ms * 1000) / 1000;
}

/** Where verification starts: the first kept entry and the hash it must point back to. */
export interface ChainAnchor {
  /** The id of the first entry kept (1 until retention prunes). */
  firstId: number;
  /** The `prevHash` that entry must carry (`GENESIS_HASH`, or the hash of the last pruned entry). */
  prevHash: string;
}

/** The head: the last entry written, as recorded when it was appended. */
export interface ChainHead {
  lastId: number;
  lastHash: string;
}

/** Why the chain is broken at an entry. */
export type ChainBreakReason =
  | 'hash_mismatch' // the entry's content does not hash to its stored hash: edited
  | 'prev_hash_mismatch' // it does not point at the entry before it: reordered or replaced
  | 'missing' // entries before it are gone: deleted
  | 'unexpected' // an entry after the recorded head: inserted
  | 'truncated'; // the recorded head is past the last entry: the newest entries were deleted

export interface ChainBreak {
  /** The first entry that does not fit (for `truncated`: the head's id). */
  id: number;
  reason: ChainBreakReason;
  message: string;
}

/**
 * Checks entries in id order, page by page: `push` each entry, then `finish` with the head. The
 * first break is kept and everything after it is ignored (it cannot be trusted either).
 */
export class ChainVerifier {
  #expectedId: number;
  #prevHash: string;
  #checked = 0;
  #break: ChainBreak | undefined;

  constructor(anchor: ChainAnchor) {
    this.#expectedId = anchor.firstId;
    this.#prevHash = anchor.prevHash;
  }

  /** Entries checked so far. */
  get checked(): number {
    return this.#checked;
  }

  get broken(): ChainBreak | undefined {
    return this.#break;
  }

  /** Checks the next entry; returns false once the chain is broken. */
  push(entry: AuditEntry): boolean {
    if (this.#break) return false;
    if (entry.id !== this.#expectedId) {
      const from = this.#expectedId;
      const to = entry.id - 1;
      const what = from === to ? `entry ${from} is` : `entries ${from}-${to} are`;
      this.#break = {
        id: entry.id,
        reason: 'missing',
        message:
          entry.id > from
            ? `entry ${entry.id}: ${what} missing before it (deleted)`
            : `entry ${entry.id}: out of order (expected ${from})`,
      };
      return false;
    }
    if (entry.prevHash !== this.#prevHash) {
      this.#break = {
        id: entry.id,
        reason: 'prev_hash_mismatch',
        message: `entry ${entry.id}: does not follow the entry before it (prevHash differs: reordered or replaced)`,
      };
      return false;
    }
    if (auditEntryHash(entry) !== entry.hash) {
      this.#break = {
        id: entry.id,
        reason: 'hash_mismatch',
        message: `entry ${entry.id}: its content does not match its hash (edited)`,
      };
      return false;
    }
    this.#prevHash = entry.hash;
    this.#expectedId = entry.id + 1;
    this.#checked++;
    return true;
  }

  /** Compares the end of the walk with the recorded head; returns the first break, if any. */
  finish(head: ChainHead): ChainBreak | undefined {
    if (this.#break) return this.#break;
    const lastId = this.#expectedId - 1;
    if (lastId > head.lastId) {
      this.#break = {
        id: head.lastId + 1,
        reason: 'unexpected',
        message: `entry ${head.lastId + 1}: not in the chain (the head ends at ${head.lastId}): inserted`,
      };
    } else if (lastId < head.lastId) {
      const from = lastId + 1;
      const what = from === head.lastId ? `entry ${from} is` : `entries ${from}-${head.lastId} are`;
      this.#break = {
        id: from,
        reason: 'truncated',
        message: `entry ${from}: ${what} missing at the end of the log (deleted)`,
      };
    } else if (this.#prevHash !== head.lastHash) {
      this.#break = {
        id: head.lastId,
        reason: 'hash_mismatch',
        message: `entry ${head.lastId}: the recorded head hash differs from the last entry's`,
      };
    }
    return this.#break;
  }
}
