import type { SecretRepo } from './auth-types.ts';
import type { StoreDb } from './schema.ts';

/** Secrets Ziggie makes for itself (the token signing key), one value per name for every node. */
export class SqlSecretRepo implements SecretRepo {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  async getOrCreate(name: string, make: () => string): Promise<string> {
    await this.#db
      .insertInto('auth_secrets')
      .values({ name, value: make(), created_at: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await this.#db
      .selectFrom('auth_secrets')
      .select('value')
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return row.value;
  }
}
