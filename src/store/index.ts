/** The storage room's public API. Adapters, SQL and migrations stay internal. */

export type { Page } from './cursor.ts';
export { type OpenStoreOptions, openStore, SQLITE_FILE_NAME } from './open-store.ts';
export type { StoreLogger } from './schema.ts';
export type {
  AgentFilter,
  AgentRepo,
  AgentTreeRow,
  AllocatedPort,
  AuditFilter,
  AuditRepo,
  CallLogEntry,
  CallLogRepo,
  ServerRepo,
  Store,
  StoreDialect,
  StoreRepos,
  StoreTx,
  ToolPin,
  ToolPinRepo,
  ToolStats,
  WorkspaceFilter,
  WorkspaceRepo,
} from './types.ts';
