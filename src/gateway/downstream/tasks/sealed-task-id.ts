import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Where a task passed through to an upstream lives: the server and the upstream's own task id. */
export interface UpstreamTaskRef {
  server: string;
  taskId: string;
}

/** Marks the ids of passed-through tasks; Ziggie-run tasks have plain UUIDs. */
const PREFIX = 'zt1.';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Longer ids are refused unread (the upstream's id is bounded by what a client would send). */
const MAX_ID_CHARS = 4096;

/**
 * The task ids Ziggie gives clients for tasks an upstream runs: the upstream and its task id,
 * sealed with AES-256-GCM under this process's key and bound to the owner (the owner is the
 * additional authenticated data, not in the id). A client can neither read where a task runs,
 * nor make an id that names another upstream or another upstream task, nor use another
 * identity's id: each of these fails to open, exactly like an id that never existed.
 */
export class TaskIdSealer {
  readonly #key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }

  /** Whether `id` is of the sealed kind (says nothing of whether it opens). */
  static isSealed(id: string): boolean {
    return id.startsWith(PREFIX);
  }

  seal(ref: UpstreamTaskRef, owner: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(owner, 'utf8'));
    const body = Buffer.concat([
      cipher.update(JSON.stringify([ref.server, ref.taskId]), 'utf8'),
      cipher.final(),
    ]);
    return PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The upstream task behind `id` for `owner`; undefined when it does not open for them. */
  open(id: string, owner: string): UpstreamTaskRef | undefined {
    if (!TaskIdSealer.isSealed(id) || id.length > MAX_ID_CHARS) return undefined;
    const raw = Buffer.from(id.slice(PREFIX.length), 'base64url');
    if (raw.length <= NONCE_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(owner, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const body = Buffer.concat([
        decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]);
      const [server, taskId] = JSON.parse(body.toString('utf8')) as unknown[];
      if (typeof server !== 'string' || typeof taskId !== 'string') return undefined;
      return { server, taskId };
    } catch {
      return undefined;
    }
  }
}
