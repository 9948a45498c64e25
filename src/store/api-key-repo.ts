import type { Selectable } from 'kysely';
import type { AuthApiKeysTable } from './auth-schema.ts';
import type { ApiKeyRecord, ApiKeyRepo, NewApiKey } from './auth-types.ts';
import type { StoreDb } from './schema.ts';

/** API keys, found by the SHA-256 of the key; the key itself is never stored. */
export class SqlApiKeyRepo implements ApiKeyRepo {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  async create(key: NewApiKey): Promise<ApiKeyRecord> {
    const row = await this.#db
      .insertInto('auth_api_keys')
      .values({
        id: key.id,
        name: key.name,
        prefix: key.prefix,
        key_hash: key.keyHash,
        kind: key.kind,
        subject: key.subject,
        role: key.role,
        tier: key.tier,
        created_by: key.createdBy,
        created_at: key.createdAt.getTime(),
        expires_at: key.expiresAt?.getTime() ?? null,
        revoked_at: null,
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toKey(row);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.#db
      .selectFrom('auth_api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toKey(row) : undefined;
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.#db
      .selectFrom('auth_api_keys')
      .selectAll()
      .where('key_hash', '=', keyHash)
      .executeTakeFirst();
    return row ? toKey(row) : undefined;
  }

  async list(filter: { createdBy?: string } = {}): Promise<ApiKeyRecord[]> {
    let query = this.#db.selectFrom('auth_api_keys').selectAll();
    if (filter.createdBy !== undefined) query = query.where('created_by', '=', filter.createdBy);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toKey);
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('auth_api_keys')
      .set({ revoked_at: at.getTime() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('auth_api_keys')
      .set({ last_used_at: at.getTime() })
      .where('id', '=', id)
      .execute();
  }
}

function date(value: number | null): Date | null {
  return value === null ? null : new Date(Number(value));
}

function toKey(row: Selectable<AuthApiKeysTable>): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    kind: row.kind,
    subject: row.subject,
    role: row.role,
    tier: row.tier,
    createdBy: row.created_by,
    createdAt: new Date(Number(row.created_at)),
    expiresAt: date(row.expires_at),
    revokedAt: date(row.revoked_at),
    lastUsedAt: date(row.last_used_at),
  };
}
