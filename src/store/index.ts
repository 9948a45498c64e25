/** The storage room's public API. Adapters, SQL and migrations stay internal. */
export { type OpenStoreOptions, openStore, SQLITE_FILE_NAME } from './open-store.ts';
export type { StoreLogger } from './schema.ts';
export type {
  CallLogEntry,
  CallLogRepo,
  ServerRepo,
  Store,
  StoreDialect,
  ToolPin,
  ToolPinRepo,
  ToolStats,
} from './types.ts';
