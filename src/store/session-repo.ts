import type { Selectable } from 'kysely';
import type { AuthSessionsTable } from './auth-schema.ts';
import type { NewSession, SessionRecord, SessionRepo } from './auth-types.ts';
import type { StoreDb } from './schema.ts';

/** Dashboard/API sessions, found by the SHA-256 of the cookie value. */
export class SqlSessionRepo implements SessionRepo {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  async create(session: NewSession): Promise<SessionRecord> {
    const row = await this.#db
      .insertInto('auth_sessions')
      .values({
        id: session.id,
        token_hash: session.tokenHash,
        user_id: session.userId,
        created_at: session.createdAt.getTime(),
        expires_at: session.expiresAt.getTime(),
        revoked_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSession(row);
  }

  async findByHash(tokenHash: string): Promise<SessionRecord | undefined> {
    const row = await this.#db
      .selectFrom('auth_sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? toSession(row) : undefined;
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('auth_sessions')
      .set({ revoked_at: at.getTime() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async revokeForUser(userId: string, at: Date): Promise<number> {
    const result = await this.#db
      .updateTable('auth_sessions')
      .set({ revoked_at: at.getTime() })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('auth_sessions')
      .where('expires_at', '<=', now.getTime())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toSession(row: Selectable<AuthSessionsTable>): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: new Date(Number(row.created_at)),
    expiresAt: new Date(Number(row.expires_at)),
    revokedAt: row.revoked_at === null ? null : new Date(Number(row.revoked_at)),
  };
}
