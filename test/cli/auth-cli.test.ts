import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { killAll, ziggie as runZiggie, startZiggieAt } from '../helpers/cli-runner.ts';

/**
 * `ziggie users|keys` and `--token` against a real `ziggie start` in `auth.mode: required`, whose
 * first admin was made with `ziggie users create --admin --local`.
 */

const dir = mkdtempSync(join(tmpdir(), 'ziggie-auth-cli-'));

/** Runs `ziggie <args>` to completion in the temp dir, `stdin` on its standard input. */
const ziggie = (args: readonly string[], env: Record<string, string> = {}, stdin?: string) =>
  runZiggie(args, { cwd: dir, env, ...(stdin === undefined ? {} : { input: stdin }) });

const configPath = join(dir, 'ziggie.yaml');
let url = '';
let banner = '';
let adminKey = '';
let password = '';

beforeAll(async () => {
  writeFileSync(
    configPath,
    stringify({ server: { port: 0 }, storage: { dataDir: join(dir, 'data') }, auth: { mode: 'required' } }),
  );
  const created = await ziggie(['users', 'create', 'root', '--admin', '--local', '--config', configPath]);
  expect(created.code, created.stderr).toBe(0);
  adminKey = /^API key: +(\S+)/m.exec(created.stdout)?.[1] ?? '';
  password = /^password: +(\S+)/m.exec(created.stdout)?.[1] ?? '';
  expect(created.stdout).toMatch(/^created user root \(admin\), id usr_/);
  ({ url, banner } = await startZiggieAt(configPath, dir));
}, 60_000);

afterAll(async () => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('ziggie users and keys', () => {
  it('made the first admin locally, with a password and an API key shown once', () => {
    expect(adminKey).toMatch(/^zgk_[0-9a-f]{8}_/);
    expect(password.length).toBeGreaterThanOrEqual(20);
    // An admin existed, so the start made none and printed no bootstrap key.
    expect(banner).toContain('  auth           required:');
    expect(banner).not.toContain('bootstrap key');
  });

  it('needs a token: AUTH_REQUIRED without one, the admin key by --token or $ZIGGIE_TOKEN', async () => {
    const none = await ziggie(['users', 'list', '--gateway', url]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^ziggie: AUTH_REQUIRED: GET \/api\/users needs credentials/);
    const byFlag = await ziggie(['users', 'list', '--gateway', url, '--token', adminKey, '--json']);
    expect(JSON.parse(byFlag.stdout)).toEqual([
      expect.objectContaining({ username: 'root', role: 'admin', hasPassword: true }),
    ]);
    const byEnv = await ziggie(['users', 'list', '--gateway', url], { ZIGGIE_TOKEN: adminKey });
    expect(byEnv.stdout).toMatch(/^ID +USERNAME +ROLE/);
  });

  it('creates a user with a password from stdin, who can then sign in', async () => {
    const run = await ziggie(
      [
        'users',
        'create',
        'vic',
        '--role',
        'viewer',
        '--password-stdin',
        '--gateway',
        url,
        '--token',
        adminKey,
      ],
      {},
      'vic has a long password\n',
    );
    expect(run.stdout).toMatch(/^created user vic \(viewer\)/);
    expect(run.stdout).not.toContain('password:');
    const login = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'vic', password: 'vic has a long password' }),
    });
    expect(login.status).toBe(200);
    const disabled = await ziggie([
      'users',
      'update',
      'vic',
      '--disable',
      '--gateway',
      url,
      '--token',
      adminKey,
    ]);
    expect(disabled.stdout).toBe('updated vic: viewer, disabled\n');
  });

  it('creates, lists and revokes keys; a revoked key fails at once; a viewer key may not add servers', async () => {
    const created = await ziggie([
      'keys',
      'create',
      'ci',
      '--role',
      'viewer',
      '--expires-in',
      '30d',
      '--gateway',
      url,
      '--token',
      adminKey,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const [line, key] = created.stdout.trim().split('\n');
    const id = /^created key (key_\S+) \(zgk_[0-9a-f]{8}\), expires /.exec(line ?? '')?.[1] ?? '';
    expect(id).not.toBe('');
    expect(created.stderr).toContain('shown this once');
    const health = await ziggie(['servers', 'health', '--gateway', url, '--token', key ?? '']);
    expect(health.stdout).toContain('overall: healthy');
    const add = await ziggie([
      'servers',
      'add',
      'x',
      '--command',
      'true',
      '--gateway',
      url,
      '--token',
      key ?? '',
    ]);
    expect(add.stderr).toMatch(/^ziggie: PERMISSION_DENIED: POST \/api\/mcp\/servers needs "mcp\.admin"/);
    const list = await ziggie(['keys', 'list', '--gateway', url, '--token', adminKey]);
    expect(list.stdout).toMatch(new RegExp(`${id} +ci +zgk_[0-9a-f]{8} +role viewer +active`));
    expect(list.stdout).not.toContain(key);
    const revoked = await ziggie(['keys', 'revoke', id, '--gateway', url, '--token', adminKey]);
    expect(revoked.stdout).toBe(`revoked ${id}\n`);
    const after = await ziggie(['servers', 'health', '--gateway', url, '--token', key ?? '']);
    expect(after.stderr).toMatch(/^ziggie: AUTH_INVALID: API key zgk_[0-9a-f]{8} refused: revoked\n$/);
    expect(after.code).toBe(1);
  });
});
