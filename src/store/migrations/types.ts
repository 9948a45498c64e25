import type { Kysely } from 'kysely';
import type { StoreDialect } from '../types.ts';

/**
 * One schema step. Unlike a bare Kysely `Migration` it is told the dialect, for the few column
 * definitions (auto-increment keys) that cannot be spelled portably.
 */
export interface StoreMigration {
  up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void>;
}
