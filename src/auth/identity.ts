import type { Actor, Permission } from '../core/access.ts';
import type { Role, Tier } from '../core/policy.ts';

/** How a request proved who it is. */
export type AuthMethod = 'local' | 'api-key' | 'session' | 'token';

/** An authenticated caller: who (the audit actor), what it may do, and how it signed in. */
export interface Identity {
  readonly actor: Actor;
  readonly permissions: ReadonlySet<Permission>;
  /** Users and role keys. */
  readonly role?: Role;
  /** Agents. */
  readonly tier?: Tier;
  readonly method: AuthMethod;
  /** The key or session used (`key_…`, `ses_…`), for the audit log and for logout. */
  readonly credentialId?: string;
  /** When the credential stops being valid (epoch seconds), if it does. */
  readonly expiresAt?: number;
}

/** `user:usr_…`, `agent:art-director`: one string per identity (MCP `clientId`, rate-limit key). */
export function identityKey(identity: Pick<Identity, 'actor'>): string {
  return `${identity.actor.type}:${identity.actor.id}`;
}
