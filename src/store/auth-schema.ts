import type { Role, Tier } from '../core/policy.ts';

/** The identity tables (migration 0005-auth) as Kysely sees them; timestamps are epoch ms. */

export interface AuthUsersTable {
  id: string;
  username: string;
  role: Role;
  password_hash: string | null;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
}

export interface AuthApiKeysTable {
  id: string;
  name: string;
  prefix: string;
  key_hash: string;
  kind: 'user' | 'agent' | 'role';
  subject: string | null;
  role: Role | null;
  tier: Tier | null;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface AuthSessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface AuthSecretsTable {
  name: string;
  value: string;
  created_at: number;
}

export interface AuthTables {
  auth_users: AuthUsersTable;
  auth_api_keys: AuthApiKeysTable;
  auth_sessions: AuthSessionsTable;
  auth_secrets: AuthSecretsTable;
}
