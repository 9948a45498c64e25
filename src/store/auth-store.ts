import { SqlApiKeyRepo } from './api-key-repo.ts';
import type { AuthStore } from './auth-types.ts';
import type { StoreDb } from './schema.ts';
import { SqlSecretRepo } from './secret-repo.ts';
import { SqlSessionRepo } from './session-repo.ts';
import { SqlUserRepo } from './user-repo.ts';

/** The identity repositories over one database. */
export function createAuthStore(db: StoreDb): AuthStore {
  return {
    users: new SqlUserRepo(db),
    apiKeys: new SqlApiKeyRepo(db),
    sessions: new SqlSessionRepo(db),
    secrets: new SqlSecretRepo(db),
  };
}
