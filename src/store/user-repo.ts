import type { Selectable } from 'kysely';
import type { AuthUsersTable } from './auth-schema.ts';
import type { NewUser, UserChange, UserRecord, UserRepo } from './auth-types.ts';
import type { StoreDb } from './schema.ts';

/** Users; the user name is unique (a clash returns undefined rather than throwing). */
export class SqlUserRepo implements UserRepo {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  async create(user: NewUser): Promise<UserRecord | undefined> {
    const at = user.createdAt.getTime();
    const row = await this.#db
      .insertInto('auth_users')
      .values({
        id: user.id,
        username: user.username,
        role: user.role,
        password_hash: user.passwordHash,
        created_at: at,
        updated_at: at,
        disabled_at: null,
      })
      .onConflict((oc) => oc.column('username').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async get(id: string): Promise<UserRecord | undefined> {
    const row = await this.#db.selectFrom('auth_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.#db
      .selectFrom('auth_users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.#db
      .selectFrom('auth_users')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toUser);
  }

  async update(id: string, change: UserChange, at: Date): Promise<UserRecord | undefined> {
    const row = await this.#db
      .updateTable('auth_users')
      .set({
        ...(change.role === undefined ? {} : { role: change.role }),
        ...(change.passwordHash === undefined ? {} : { password_hash: change.passwordHash }),
        ...(change.disabledAt === undefined ? {} : { disabled_at: change.disabledAt?.getTime() ?? null }),
        updated_at: at.getTime(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async firstAdmin(): Promise<UserRecord | undefined> {
    const row = await this.#db
      .selectFrom('auth_users')
      .selectAll()
      .where('role', '=', 'admin')
      .where('disabled_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }
}

function toUser(row: Selectable<AuthUsersTable>): UserRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    passwordHash: row.password_hash,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    disabledAt: row.disabled_at === null ? null : new Date(Number(row.disabled_at)),
  };
}
