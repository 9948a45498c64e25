import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  server = await startServer(dir, {
    workspaces: { ziggie: { path: 'C:/Ziggie', portRange: [3000, 3099], priority: 'P0' } },
  });
});

afterAll(async () => {
  try {
    expect(await server?.stop()).toBe(0);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('ziggie workspaces', () => {
  it('--help names the subcommands', async () => {
    const run = await ziggie(['workspaces', '--help'], { cwd: dir });
    for (const word of ['list', 'show', 'create', 'update', 'ports', 'export', 'import'])
      expect(run.stdout).toContain(word);
  });

  it('list shows the workspaces of ziggie.yaml', async () => {
    const run = await remote(['workspaces', 'list']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^NAME\s+STATUS\s+PRIORITY\s+HEALTH\s+PORTS\s+SERVERS\s+PATH$/m);
    expect(run.stdout).toMatch(/^ziggie\s+active\s+P0\s+on-track\s+3000-3099\s+-\s+C:\/Ziggie$/m);
  });

  it('create, update, show and ports', async () => {
    const created = await remote([
      'workspaces',
      'create',
      'fitflow',
      '--path',
      'C:/FitFlow',
      '--ports',
      '3100-3101',
      '--status',
      'planning',
      '--mcp-server',
      'comfyui',
      '--mcp-server',
      'aws_gpu',
      '--meta',
      'owner=fit-team',
    ]);
    expect(created).toMatchObject({ code: 0, stdout: 'created workspace fitflow (ports 3100-3101)\n' });
    const updated = await remote([
      'workspaces',
      'update',
      'fitflow',
      '--health',
      'at-risk',
      '--meta',
      'value=high',
    ]);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(/^health:\s+at-risk$/m);
    expect(updated.stdout).toContain('{"owner":"fit-team","value":"high"}');

    expect(await remote(['workspaces', 'ports', 'fitflow', '--label', 'api'])).toMatchObject({
      code: 0,
      stdout: '3100\n',
    });
    expect(await remote(['workspaces', 'ports', 'fitflow'])).toMatchObject({ code: 0, stdout: '3101\n' });
    expectFailure(
      await remote(['workspaces', 'ports', 'fitflow']),
      'WORKSPACE_PORTS_EXHAUSTED',
      'every port of workspace "fitflow" (3100-3101) is handed out; release one or widen the range',
    );
    expect(await remote(['workspaces', 'ports', 'fitflow', '--release', '3101'])).toMatchObject({ code: 0 });

    const shown = await remote(['workspaces', 'show', 'fitflow']);
    expect(shown.stdout).toMatch(/^allocated:\s+3100 \(api\)$/m);
    expect(shown.stdout).toMatch(/^mcpServers:\s+comfyui, aws_gpu$/m);
    const json = JSON.parse((await remote(['workspaces', 'show', 'fitflow', '--json'])).stdout);
    expect(json).toMatchObject({
      name: 'fitflow',
      status: 'planning',
      health: 'at-risk',
      portRange: [3100, 3101],
    });
  });

  it('refuses an overlapping range naming both, a bad range and an unknown workspace', async () => {
    expectFailure(
      await remote(['workspaces', 'create', 'meowping', '--path', '/m', '--ports', '3050-3060']),
      'WORKSPACE_PORT_OVERLAP',
      'port range 3050-3060 of workspace "meowping" overlaps workspace "ziggie" (3000-3099)',
    );
    expectFailure(
      await remote(['workspaces', 'create', 'meowping', '--path', '/m', '--ports', '99-1']),
      'VALIDATION_FAILED',
      /portRange/,
    );
    expectFailure(
      await remote(['workspaces', 'create', 'meowping']),
      'CLI_USAGE',
      'workspaces create: --path <path> is required',
    );
    expectFailure(
      await remote(['workspaces', 'show', 'nowhere']),
      'WORKSPACE_NOT_FOUND',
      'no workspace named "nowhere"',
    );
    expectFailure(await remote(['workspaces', 'update', 'ziggie']), 'CLI_USAGE', /nothing to change/);
  });

  it('export as YAML, import it back (unchanged), import a changed file', async () => {
    const exported = await remote(['workspaces', 'export']);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/^workspaces:\n {2}fitflow:\n {4}path: C:\/FitFlow\n/);
    const file = join(dir, 'workspaces.yaml');
    writeFileSync(file, exported.stdout);
    expect(await remote(['workspaces', 'import', file])).toMatchObject({
      code: 0,
      stdout: 'created 0, updated 0\n',
    });

    writeFileSync(
      file,
      exported.stdout.replace('priority: P0', 'priority: P1') +
        '  simstudio:\n    path: C:/SimStudio\n    portRange: 3300-3399\n',
    );
    expect(await remote(['workspaces', 'import', file])).toMatchObject({
      code: 0,
      stdout: 'created 1, updated 1\n',
    });
    writeFileSync(file, 'workspaces:\n  bad:\n    path: /b\n    portRange: [3300, 3310]\n');
    expectFailure(
      await remote(['workspaces', 'import', file]),
      'WORKSPACE_PORT_OVERLAP',
      /"bad" overlaps workspace "simstudio"/,
    );
    writeFileSync(file, 'workspaces: [oops');
    expectFailure(await remote(['workspaces', 'import', file]), 'CLI_USAGE', /not valid YAML or JSON/);
  });
});

describe('ziggie agents', () => {
  it('--help names the subcommands and list filters', async () => {
    const group = await ziggie(['agents', '--help'], { cwd: dir });
    for (const word of ['list', 'show', 'create', 'update', 'disable', 'import', 'export', 'tree']) {
      expect(group.stdout).toContain(word);
    }
    const list = await ziggie(['agents', 'list', '--help'], { cwd: dir });
    for (const word of [
      '--tier',
      '--team',
      '--skill',
      '--workspace',
      '--status',
      '--parent',
      '--cursor',
      '--json',
    ]) {
      expect(list.stdout).toContain(word);
    }
  });

  it('imports examples/agents.yaml and queries it', async () => {
    const file = join(process.cwd(), 'examples/agents.yaml');
    expect(await remote(['agents', 'import', file])).toMatchObject({
      code: 0,
      stdout: 'imported 1840 agents\n',
    });

    const elite = await remote(['agents', 'list', '--team', 'Elite-Technical']);
    expect(elite.code).toBe(0);
    expect(elite.stdout.split('\n')[0]).toMatch(
      /^ID\s+NAME\s+TIER\s+TEAM\s+WORKSPACE\s+STATUS\s+LOAD\s+PARENT$/,
    );
    expect(elite.stdout).toMatch(
      /^elite\.argus\s+ARGUS\s+L1\s+Elite-Technical\s+ziggie\s+idle\s+0\/2\s+ziggie$/m,
    );

    const page = JSON.parse(
      (await remote(['agents', 'list', '--workspace', 'fitflow', '--tier', 'L2', '--limit', '30', '--json']))
        .stdout,
    );
    expect(page.items).toHaveLength(30);
    const rest = JSON.parse(
      (
        await remote([
          'agents',
          'list',
          '--workspace',
          'fitflow',
          '--tier',
          'L2',
          '--limit',
          '30',
          '--cursor',
          page.nextCursor,
          '--json',
        ])
      ).stdout,
    );
    expect(rest).toMatchObject({ nextCursor: null });
    expect(rest.items).toHaveLength(10);
    const table = await remote(['agents', 'list', '--skill', 'vfx', '--limit', '1']);
    expect(table.stdout).toMatch(/^elite\.vulcan\s+VULCAN\s/m);

    const tree = await remote(['agents', 'tree', '--root', 'meowping-nft.blockchain-lead', '--depth', '1']);
    expect(tree.code).toBe(0);
    const lines = tree.stdout.trim().split('\n');
    expect(lines[0]).toBe('meowping-nft.blockchain-lead  Blockchain Lead [L1]');
    expect(lines[1]).toBe('  meowping-nft.blockchain-lead.l2-1  Blockchain Lead planning specialist [L2]');
    expect(lines).toHaveLength(9);
  });

  it('create, update, show, disable', async () => {
    const created = await remote([
      'agents',
      'create',
      'ziggie.qa.l2-1.l3-9',
      '--name',
      'Screenshot differ',
      '--tier',
      'L3',
      '--parent',
      'ziggie.qa.l2-1',
      '--workspace',
      'ziggie',
      '--skill',
      'visual_diff',
      '--skill',
      'playwright',
      '--executor',
      '{"type":"shell","command":"claude","args":["-p"]}',
    ]);
    expect(created).toMatchObject({
      code: 0,
      stdout: 'created ziggie.qa.l2-1.l3-9 (L3 under ziggie.qa.l2-1)\n',
    });
    const updated = await remote([
      'agents',
      'update',
      'ziggie.qa.l2-1.l3-9',
      '--capacity',
      '3',
      '--specialization',
      'visual regressions',
    ]);
    expect(updated.stdout).toMatch(/^load:\s+0\/3$/m);
    expect(updated.stdout).toMatch(/^specialization:\s+visual regressions$/m);
    expect(await remote(['agents', 'disable', 'ziggie.qa.l2-1.l3-9'])).toMatchObject({
      code: 0,
      stdout: 'disabled ziggie.qa.l2-1.l3-9\n',
    });
    const shown = JSON.parse((await remote(['agents', 'show', 'ziggie.qa.l2-1.l3-9', '--json'])).stdout);
    expect(shown).toMatchObject({
      status: 'disabled',
      skills: ['visual_diff', 'playwright'],
      executor: { type: 'shell', command: 'claude', args: ['-p'] },
    });
    const trail = JSON.parse(
      (await remote(['audit', 'list', '--entity-id', 'ziggie.qa.l2-1.l3-9', '--json'])).stdout,
    );
    expect(trail.items.map((e: { action: string }) => e.action)).toEqual([
      'AGENT_DEACTIVATED',
      'AGENT_CONFIG_UPDATED',
      'AGENT_CREATED',
    ]);
  });

  it('refuses bad input with one line and a stable code', async () => {
    expectFailure(
      await remote(['agents', 'create', 'x', '--name', 'X', '--tier', 'L5']),
      'AGENT_TIER_UNKNOWN',
      'agent "x": unknown tier "L5" (tiers: L0, L1, L2, L3)',
    );
    expectFailure(
      await remote(['agents', 'create', 'ziggie', '--name', 'Z', '--tier', 'L0']),
      'AGENT_EXISTS',
      'agent "ziggie" already exists',
    );
    expectFailure(
      await remote(['agents', 'update', 'fitflow.qa', '--parent', 'fitflow.qa.l2-3']),
      'AGENT_HIERARCHY_CYCLE',
      'agent "fitflow.qa": parent "fitflow.qa.l2-3" would make a cycle (fitflow.qa → fitflow.qa.l2-3 → fitflow.qa)',
    );
    expectFailure(
      await remote(['agents', 'create', 'y', '--name', 'Y', '--tier', 'L1', '--parent', 'fitflow.qa.l2-3']),
      'AGENT_PARENT_TIER_INVALID',
      /parent "fitflow\.qa\.l2-3" is L2, a lower tier/,
    );
    expectFailure(
      await remote(['agents', 'create', 'y', '--name', 'Y', '--tier', 'L3', '--parent', 'ghost']),
      'AGENT_PARENT_NOT_FOUND',
      'agent "y": parent "ghost" does not exist',
    );
    expectFailure(await remote(['agents', 'show', 'ghost']), 'AGENT_NOT_FOUND', 'no agent with id "ghost"');
    expectFailure(
      await remote(['agents', 'create', 'y', '--tier', 'L1']),
      'CLI_USAGE',
      'agents create: --name and --tier are required',
    );
    expectFailure(
      await remote(['agents', 'update', 'y', '--capacity', 'lots']),
      'CLI_USAGE',
      '--capacity: expected a whole number (got "lots")',
    );
    expectFailure(
      await remote(['agents', 'update', 'y', '--executor', '{cli}']),
      'CLI_USAGE',
      /^--executor: not valid JSON/,
    );
    const file = join(dir, 'cycle.yaml');
    writeFileSync(
      file,
      'agents:\n  - { id: c1, name: C1, tier: L1, parent: c2 }\n  - { id: c2, name: C2, tier: L2, parent: c1 }\n',
    );
    expectFailure(await remote(['agents', 'import', file]), 'AGENT_HIERARCHY_CYCLE', /c1 → c2 → c1/);
    writeFileSync(file, 'not: agents\n');
    expectFailure(
      await remote(['agents', 'import', file]),
      'CLI_USAGE',
      `${file}: expected a list of agents, or {agents: [...]}`,
    );
  });

  it('export (YAML and JSON) reads back as an import file', async () => {
    const yaml = await remote(['agents', 'export', '--workspace', 'simstudio', '--tier', 'L1']);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout.startsWith('agents:\n  - id: simstudio.data-analyst\n')).toBe(true);
    expect(yaml.stdout).not.toContain('createdAt');
    const out = join(dir, 'agents.json');
    expect(await remote(['agents', 'export', '--format', 'json', '--team', 'BMAD', '-o', out])).toMatchObject(
      { code: 0, stdout: '' },
    );
    const { agents } = JSON.parse(readFileSync(out, 'utf8'));
    expect(agents.map((a: { id: string }) => a.id)).toEqual(['bmad.backend', 'bmad.e2e', 'bmad.frontend']);
    // Importing the export again is refused as a whole (they exist), naming the first.
    expectFailure(
      await remote(['agents', 'import', out]),
      'AGENT_EXISTS',
      'agent "bmad.backend" already exists (and 2 more problems)',
    );
  });
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
