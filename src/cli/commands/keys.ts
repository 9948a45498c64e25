import type { Command } from 'commander';
import { ZiggieError } from '../../core/errors.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  kind: string;
  role?: string;
  tier?: string;
  agentId?: string;
  userId?: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** `ziggie keys list|create|revoke`: API keys of a running Ziggie. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('list, create and revoke API keys');

  remoteOptions(
    keys.command('list').description('list the API keys you may manage (never the keys themselves)'),
  ).action(async (flags: RemoteFlags) => {
    const { items } = await clientFor(flags).get<{ items: KeyRow[] }>('/api/keys');
    if (flags.json) return printJson(items);
    printTable(
      items.map((k) => ({
        ...k,
        acts:
          k.kind === 'agent'
            ? `agent ${k.agentId} (${k.tier})`
            : k.kind === 'role'
              ? `role ${k.role}`
              : `user ${k.userId}`,
        state: k.revokedAt
          ? 'REVOKED'
          : k.expiresAt && Date.parse(k.expiresAt) <= Date.now()
            ? 'EXPIRED'
            : 'active',
      })),
      ['id', 'name', 'prefix', 'acts', 'state', 'expiresAt', 'lastUsedAt'],
      'no API keys',
    );
  });

  remoteOptions(
    keys
      .command('create <name>')
      .description('create an API key (shown once): your own, one with a role, or an agent’s')
      .option('--role <role>', 'the key acts with this role (admin, operator, viewer)')
      .option('--agent <id>', 'the key acts as this agent')
      .option('--tier <tier>', 'the agent’s tier (L0-L3), when no agent registry knows it')
      .option('--expires-in <duration>', 'e.g. 30d, 12h, 15m, or seconds; default: never'),
  ).action(
    async (
      name: string,
      flags: RemoteFlags & { role?: string; agent?: string; tier?: string; expiresIn?: string },
    ) => {
      if (flags.role && flags.agent)
        throw new ZiggieError('CLI_USAGE', 'keys create: --role or --agent, not both');
      const expiresIn =
        flags.expiresIn === undefined
          ? undefined
          : /^\d+$/.test(flags.expiresIn)
            ? Number(flags.expiresIn)
            : flags.expiresIn;
      const created = await clientFor(flags).post<KeyRow & { key: string }>('/api/keys', {
        name,
        ...(flags.role ? { role: flags.role } : {}),
        ...(flags.agent ? { agentId: flags.agent } : {}),
        ...(flags.tier ? { tier: flags.tier } : {}),
        ...(expiresIn === undefined ? {} : { expiresIn }),
      });
      if (flags.json) return printJson(created);
      process.stdout.write(
        `created key ${created.id} (${created.prefix})${created.expiresAt ? `, expires ${created.expiresAt}` : ''}\n`,
      );
      process.stdout.write(`${created.key}\n`);
      process.stderr.write('the key is shown this once: store it now\n');
    },
  );

  remoteOptions(
    keys.command('revoke <id>').description('revoke an API key; it stops working at once'),
  ).action(async (id: string, flags: RemoteFlags) => {
    await clientFor(flags).delete(`/api/keys/${encodeURIComponent(id)}`);
    if (flags.json) return printJson({ revoked: id });
    process.stdout.write(`revoked ${id}\n`);
  });
}
