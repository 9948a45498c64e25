import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, killAll, type RunningZiggie, startServer, ziggie } from '../helpers/cli-runner.ts';

/**
 * `ziggie audit …` (and, below, `workspaces` and `agents`) against a real `ziggie start`, each
 * command a real child process talking REST to it.
 */
const dir = mkdtempSync(join(tmpdir(), 'ziggie-registry-cli-'));
let server: RunningZiggie;
const remote = (args: readonly string[], input?: string) =>
  ziggie([...args, '--gateway', server.url], { cwd: dir, ...(input === undefined ? {} : { input }) });

beforeAll(async () => {
  server = await startServer(dir, {});
});

afterAll(async () => {
  try {
    expect(await server?.stop()).toBe(0);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('ziggie audit', () => {
  it('--help lists the subcommands and filters', async () => {
    const run = await ziggie(['audit', 'list', '--help'], { cwd: dir });
    expect(run.code).toBe(0);
    for (const word of ['--actor', '--action', '--entity-type', '--since', '--until', '--cursor', '--json']) {
      expect(run.stdout).toContain(word);
    }
    const group = await ziggie(['audit', '--help'], { cwd: dir });
    for (const word of ['list', 'export', 'verify']) expect(group.stdout).toContain(word);
  });

  it('verify on an intact log', async () => {
    const run = await remote(['audit', 'verify']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^audit log intact: \d+ entries checked \(.+\); head [0-9a-f]{64}\n$/);
  });

  it('list, list --json with a cursor, and a bad filter', async () => {
    // Something to list: a run-time server added and removed (both audited).
    expect(
      (await remote(['servers', 'add', 'cli-audited', '--url', 'http://127.0.0.1:9/mcp', '--lazy'])).code,
    ).toBe(0);
    expect((await remote(['servers', 'remove', 'cli-audited'])).code).toBe(0);

    const table = await remote(['audit', 'list', '--entity-type', 'server']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TIME\s+ACTOR\s+ACTION\s+ENTITY\s+OUTCOME\s+MS\s+IP$/);
    expect(lines[1]).toMatch(/\sSERVER_REMOVED\s+server:cli-audited\s+success\s/);
    expect(lines[2]).toMatch(/\sSERVER_ADDED\s+server:cli-audited\s+success\s/);

    const first = await remote([
      'audit',
      'list',
      '--action',
      'SERVER_ADDED,SERVER_REMOVED',
      '--limit',
      '1',
      '--json',
    ]);
    const page = JSON.parse(first.stdout) as { items: Array<{ action: string }>; nextCursor: string };
    expect(page.items.map((e) => e.action)).toEqual(['SERVER_REMOVED']);
    const second = await remote([
      'audit',
      'list',
      '--action',
      'SERVER_ADDED',
      '--action',
      'SERVER_REMOVED',
      '--limit',
      '1',
      '--cursor',
      page.nextCursor,
      '--json',
    ]);
    expect((JSON.parse(second.stdout) as typeof page).items.map((e) => e.action)).toEqual(['SERVER_ADDED']);

    expectFailure(await remote(['audit', 'list', '--since', 'last tuesday']), 'VALIDATION_FAILED', /since/);
  });

  it('export streams CSV to stdout and JSON to a file', async () => {
    const csv = await remote(['audit', 'export', '--format', 'csv', '--entity-type', 'server']);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.trim().split('\r\n');
    expect(rows[0]).toBe(
      'id,time,actorType,actorId,action,entityType,entityId,outcome,durationMs,ip,metadata,prevHash,hash',
    );
    expect(rows.slice(1).map((r) => r.split(',')[4])).toEqual(['SERVER_ADDED', 'SERVER_REMOVED']);

    const file = join(dir, 'audit.json');
    const json = await remote(['audit', 'export', '--entity-type', 'server', '-o', file]);
    expect(json).toMatchObject({ code: 0, stdout: '' });
    const exported = JSON.parse(readFileSync(file, 'utf8')) as Array<{ action: string }>;
    expect(exported.map((e) => e.action)).toEqual(['SERVER_ADDED', 'SERVER_REMOVED']);

    expectFailure(
      await remote(['audit', 'export', '--format', 'xml']),
      'CLI_USAGE',
      '--format: expected csv or json (got "xml")',
    );
  });

  // Last: it breaks the chain for good.
  it('verify exits 1 and names the first broken entry after a row is edited', async () => {
    const db = new DatabaseSync(join(dir, 'data', 'ziggie.db'), { timeout: 5000 });
    try {
      db.prepare(`update audit_log set outcome = 'failure' where id = 1`).run();
    } finally {
      db.close();
    }
    expectFailure(
      await remote(['audit', 'verify']),
      'AUDIT_CHAIN_BROKEN',
      'entry 1: its content does not match its hash (edited)',
    );
    const json = await remote(['audit', 'verify', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, broken: { id: 1, reason: 'hash_mismatch' } });
  });
});
