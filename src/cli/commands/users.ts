import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { ZiggieError } from '../../core/errors.ts';
import { type ConfigFlags, configOptions, loadCliConfig } from '../config-flags.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

interface UserRow {
  id: string;
  username: string;
  role: string;
  hasPassword: boolean;
  disabled: boolean;
  createdAt: string;
}

const ROLE_NAMES = ['admin', 'operator', 'viewer'];

interface CreateFlags extends RemoteFlags, ConfigFlags {
  role?: string;
  admin?: boolean;
  passwordStdin?: boolean;
  password?: boolean;
  local?: boolean;
}

/** `ziggie users list|create|update`: people who sign in to Ziggie. */
export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .description('list, create and change users (roles admin, operator, viewer)');

  remoteOptions(users.command('list').description('list users')).action(async (flags: RemoteFlags) => {
    const { items } = await clientFor(flags).get<{ items: UserRow[] }>('/api/users');
    if (flags.json) return printJson(items);
    printTable(
      items.map((u) => ({
        ...u,
        password: u.hasPassword ? 'yes' : 'no',
        disabled: u.disabled ? 'DISABLED' : '',
      })),
      ['id', 'username', 'role', 'password', 'disabled', 'createdAt'],
      'no users',
    );
  });

  configOptions(
    remoteOptions(
      users
        .command('create <username>')
        .description('create a user; its password is read from stdin, or generated and shown once')
        .option('--role <role>', 'admin, operator or viewer (default viewer)')
        .option('--admin', 'same as --role admin')
        .option('--password-stdin', 'read the password from standard input')
        .option('--no-password', 'no password: the user signs in with API keys only')
        .option(
          '--local',
          'write to the database of the config (--config, --data-dir) instead of a running Ziggie: for the first admin or to recover access; an admin also gets an API key',
        ),
    ),
  ).action(async (username: string, flags: CreateFlags) => {
    const role = roleOf(flags);
    const password = flags.password === false ? undefined : await passwordOf(flags);
    const created = flags.local
      ? await createLocally(flags, username, role, password)
      : {
          user: await clientFor(flags).post<UserRow>('/api/users', {
            username,
            role,
            ...(password ? { password: password.value } : {}),
          }),
        };
    if (flags.json) {
      return printJson({
        ...created,
        ...(password?.generated ? { password: password.value } : {}),
      });
    }
    process.stdout.write(
      `created user ${created.user.username} (${created.user.role}), id ${created.user.id}\n`,
    );
    if (password?.generated) process.stdout.write(`password: ${password.value}   (shown once)\n`);
    if ('key' in created && created.key) process.stdout.write(`API key:  ${created.key}   (shown once)\n`);
  });

  remoteOptions(
    users
      .command('update <user>')
      .description('change a user (by id or user name): role, password, disabled')
      .option('--role <role>', 'admin, operator or viewer')
      .option('--password-stdin', 'read a new password from standard input (signs the user out everywhere)')
      .option('--disable', 'disable: no sign-in, its keys and sessions stop working')
      .option('--enable', 'enable again'),
  ).action(
    async (
      user: string,
      flags: RemoteFlags & { role?: string; passwordStdin?: boolean; disable?: boolean; enable?: boolean },
    ) => {
      if (flags.disable && flags.enable)
        throw new ZiggieError('CLI_USAGE', 'users update: --disable or --enable, not both');
      const role = flags.role === undefined ? undefined : roleOf(flags);
      const password = flags.passwordStdin ? await readStdin() : undefined;
      const body = {
        ...(role ? { role } : {}),
        ...(password ? { password } : {}),
        ...(flags.disable ? { disabled: true } : flags.enable ? { disabled: false } : {}),
      };
      if (Object.keys(body).length === 0) {
        throw new ZiggieError(
          'CLI_USAGE',
          'users update: nothing to change (--role, --password-stdin, --disable, --enable)',
        );
      }
      const updated = await clientFor(flags).patch<UserRow>(`/api/users/${encodeURIComponent(user)}`, body);
      if (flags.json) return printJson(updated);
      process.stdout.write(
        `updated ${updated.username}: ${updated.role}${updated.disabled ? ', disabled' : ''}\n`,
      );
    },
  );
}

function roleOf(flags: { role?: string; admin?: boolean }): string {
  if (flags.admin) {
    if (flags.role && flags.role !== 'admin')
      throw new ZiggieError('CLI_USAGE', '--admin and --role disagree');
    return 'admin';
  }
  const role = flags.role ?? 'viewer';
  if (!ROLE_NAMES.includes(role)) {
    throw new ZiggieError('CLI_USAGE', `--role: expected admin, operator or viewer (got "${role}")`);
  }
  return role;
}

async function passwordOf(flags: CreateFlags): Promise<{ value: string; generated: boolean }> {
  if (flags.passwordStdin) return { value: await readStdin(), generated: false };
  return { value: randomBytes(18).toString('base64url'), generated: true };
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const value = text.replace(/\r?\n$/, '');
  if (!value) throw new ZiggieError('CLI_USAGE', '--password-stdin: standard input was empty');
  return value;
}

/** Straight into the database: what `--local` does (no server, no credentials: the host is trusted). */
async function createLocally(
  flags: CreateFlags,
  username: string,
  role: string,
  password: { value: string } | undefined,
): Promise<{ user: UserRow; key?: string }> {
  const config = await loadCliConfig(flags);
  const [{ openStore }, { AuthService, publicUser }, { rolePermissions }, { SYSTEM_ACTOR }] =
    await Promise.all([
      import('../../store/index.ts'),
      import('../../auth/index.ts'),
      import('../../core/policy.ts'),
      import('../../core/access.ts'),
    ]);
  const store = await openStore({
    ...(config.storage.url ? { url: config.storage.url } : {}),
    dataDir: config.storage.dataDir,
  });
  try {
    const auth = await AuthService.create({
      store,
      settings: { ...config.auth, mode: 'required' },
    });
    const system = {
      actor: SYSTEM_ACTOR,
      permissions: rolePermissions('admin'),
      role: 'admin' as const,
      method: 'local' as const,
    };
    const user = await auth.accounts.createUser(system, {
      username,
      role,
      ...(password ? { password: password.value } : {}),
    });
    if (user.role !== 'admin') return { user: publicUser(user) };
    const owner = {
      actor: { type: 'user' as const, id: user.id },
      permissions: rolePermissions('admin'),
      role: 'admin' as const,
      method: 'local' as const,
    };
    const { key } = await auth.accounts.createKey(owner, { name: 'cli' });
    return { user: publicUser(user), key };
  } finally {
    await store.close();
  }
}
