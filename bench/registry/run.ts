/**
 * The registry benchmark (`npm run bench:registry`), against the budgets of issue 3 §4, on SQLite
 * (a file in a temp dir, WAL, synchronous=FULL) and PostgreSQL (a fresh schema):
 *
 * - import of 10,000 agents through `AgentRegistry.import` (validation, hierarchy rules, one
 *   transaction with the agents, their skills and 10,000 AGENT_CREATED audit entries); budget < 2 s.
 *   Baseline, same run: the same rows written by a bare Kysely multi-row insert in one transaction
 *   (no validation, no hierarchy check, no audit) into another fresh database.
 * - filtered queries through `AgentRegistry.list` (tier, team, skill, workspace, status, parent and
 *   combinations, first pages and cursor pages of 50); budget p99 < 5 ms. Baseline: a primary-key
 *   lookup through the same store (the floor of one query round trip).
 *
 * Progress goes to stderr, one JSON document to stdout. Options: --agents N (10000), --queries N
 * (3000), --only sqlite|postgres. PostgreSQL: $ZIGGIE_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { NewAgentInput } from '../../src/core/agent.ts';
import { AgentRegistry } from '../../src/registry/agent-registry.ts';
import { openStore, SQLITE_FILE_NAME } from '../../src/store/index.ts';
import { ZiggieSqliteDialect } from '../../src/store/sqlite-dialect.ts';
import { openSqliteDatabase } from '../../src/store/sqlite-driver.ts';

const IMPORT_BUDGET_MS = 2000;
const QUERY_P99_BUDGET_MS = 5;
const PG_URL = process.env.ZIGGIE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const { values: opts } = parseArgs({
  options: {
    agents: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '3000' },
    only: { type: 'string' },
  },
});
const AGENTS = Number(opts.agents);
const QUERIES = Number(opts.queries);

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const SKILLS = Array.from({ length: 40 }, (_, i) => `skill_${i}`);
const TEAMS = [
  'BMAD',
  'Elite-Art',
  'Elite-Design',
  'Elite-Technical',
  'Elite-Production',
  'Core',
  'Ops',
  'Research',
];
const STATUSES = ['idle', 'idle', 'idle', 'assigned', 'working', 'blocked', 'offline'] as const;
const WORKSPACES = Array.from({ length: 20 }, (_, i) => `ws-${i}`);

/** `n` agents shaped like the seeds: an L0, leads with 8 L2 and 64 L3 each, then standalone L1s. */
function generateAgents(n: number): NewAgentInput[] {
  const agents: NewAgentInput[] = [];
  const add = (agent: Partial<NewAgentInput> & Pick<NewAgentInput, 'id' | 'name' | 'tier'>) => {
    const i = agents.length;
    agents.push({
      team: null,
      workspace: null,
      parent: null,
      skills: [],
      specialization: null,
      status: STATUSES[i % STATUSES.length] ?? 'idle',
      capacity: 1,
      workload: 0,
      qualityScore: 100,
      tasksCompleted: 0,
      avgCompletionMs: null,
      executor: null,
      metadata: {},
      ...agent,
    });
  };
  add({ id: 'root', name: 'Ziggie', tier: 'L0', skills: ['coordination'] });
  for (let lead = 0; agents.length + 73 <= n; lead++) {
    const workspace = WORKSPACES[lead % WORKSPACES.length] ?? null;
    const team = TEAMS[lead % TEAMS.length] ?? null;
    const leadId = `lead-${lead}`;
    add({
      id: leadId,
      name: `Lead ${lead}`,
      tier: 'L1',
      parent: 'root',
      workspace,
      team,
      skills: pick(lead, 3),
      capacity: 5,
    });
    for (let a = 0; a < 8; a++) {
      const l2 = `${leadId}.l2-${a}`;
      add({
        id: l2,
        name: `Specialist ${lead}/${a}`,
        tier: 'L2',
        parent: leadId,
        workspace,
        skills: pick(lead * 8 + a, 2),
      });
      for (let b = 0; b < 8; b++) {
        add({
          id: `${l2}.l3-${b}`,
          name: `Micro ${lead}/${a}/${b}`,
          tier: 'L3',
          parent: l2,
          workspace,
          skills: pick(lead * 64 + a * 8 + b, 2),
        });
      }
    }
  }
  for (let i = 0; agents.length < n; i++) {
    add({
      id: `solo-${i}`,
      name: `Solo ${i}`,
      tier: 'L1',
      parent: 'root',
      team: 'Elite-Art',
      skills: pick(i, 2),
    });
  }
  return agents;
}

function pick(seed: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => SKILLS[(seed * 7 + k * 13) % SKILLS.length] ?? 'skill_0');
}

/** A fresh, migrated database of the dialect, how to reach it bare, and how to remove it. */
async function freshDatabase(dialect: 'sqlite' | 'postgres') {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ziggie-bench-registry-'));
    const store = await openStore({ dataDir: dir });
    return {
      store,
      bare: (): AnyDb =>
        new Kysely({
          dialect: new ZiggieSqliteDialect({ database: openSqliteDatabase(join(dir, SQLITE_FILE_NAME)) }),
        }),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `ziggie_bench_${randomBytes(5).toString('hex')}`;
  const store = await openStore({ url: PG_URL, schema, dataDir: tmpdir() });
  return {
    store,
    bare: (): AnyDb =>
      new Kysely({
        dialect: new PostgresDialect({
          pool: new pg.Pool({ connectionString: PG_URL, options: `-c search_path=${schema}`, max: 1 }),
        }),
      }),
    async drop() {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the baseline writes rows below the repository layer.
type AnyDb = Kysely<any>;

/**
 * The baseline: the same rows (agents and skills) by a bare Kysely multi-row insert in one
 * transaction, on the same driver and settings, into a fresh database: nothing validated, no
 * hierarchy check, no audit.
 */
async function rawInsert(dialect: 'sqlite' | 'postgres', agents: NewAgentInput[]): Promise<number> {
  const { store, bare, drop } = await freshDatabase(dialect);
  await store.close();
  const db = bare();
  try {
    const now = Date.now();
    const started = performance.now();
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < agents.length; i += 500) {
        await trx
          .insertInto('agents')
          .values(
            agents.slice(i, i + 500).map((a) => ({
              id: a.id,
              name: a.name,
              tier: a.tier,
              team: a.team,
              workspace: a.workspace,
              parent: a.parent,
              skills_json: JSON.stringify(a.skills),
              specialization: a.specialization,
              status: a.status,
              capacity: a.capacity,
              workload: a.workload,
              quality_score: a.qualityScore,
              tasks_completed: a.tasksCompleted,
              avg_completion_ms: a.avgCompletionMs,
              executor_json: null,
              metadata_json: '{}',
              created_at: now,
              updated_at: now,
            })),
          )
          .execute();
      }
      const skills = agents.flatMap((a) =>
        [...new Set(a.skills)].map((skill) => ({ skill, agent_id: a.id })),
      );
      for (let i = 0; i < skills.length; i += 2000) {
        await trx
          .insertInto('agent_skills')
          .values(skills.slice(i, i + 2000))
          .execute();
      }
    });
    return performance.now() - started;
  } finally {
    await db.destroy();
    await drop();
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((s, x) => s + x, 0) / Math.max(samples.length, 1);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    count: samples.length,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(mean),
    maxMs: round(sorted.at(-1) ?? 0),
  };
}

async function runDialect(dialect: 'sqlite' | 'postgres') {
  const agents = generateAgents(AGENTS);
  progress(`${dialect}: baseline (bare insert of ${agents.length} agents)`);
  const baselineMs = await rawInsert(dialect, agents);

  progress(`${dialect}: import through AgentRegistry`);
  const { store, drop } = await freshDatabase(dialect);
  try {
    const registry = new AgentRegistry(store);
    const started = performance.now();
    const { imported } = await registry.import({ agents }, { actor: { type: 'system', id: 'bench' } });
    const importMs = performance.now() - started;

    progress(`${dialect}: ${QUERIES} filtered queries`);
    const filters: Array<[string, () => Record<string, string>]> = [
      ['tier', () => ({ tier: ['L1', 'L2', 'L3'][rand(3)] ?? 'L2' })],
      ['team', () => ({ team: TEAMS[rand(TEAMS.length)] ?? 'Core' })],
      ['skill', () => ({ skill: SKILLS[rand(SKILLS.length)] ?? 'skill_0' })],
      ['workspace', () => ({ workspace: WORKSPACES[rand(WORKSPACES.length)] ?? 'ws-0' })],
      ['status', () => ({ status: STATUSES[rand(STATUSES.length)] ?? 'idle' })],
      ['parent', () => ({ parent: `lead-${rand(100)}` })],
      [
        'skill+workspace',
        () => ({
          skill: SKILLS[rand(SKILLS.length)] ?? 'skill_0',
          workspace: WORKSPACES[rand(WORKSPACES.length)] ?? 'ws-0',
        }),
      ],
      [
        'tier+workspace+status',
        () => ({ tier: 'L3', workspace: WORKSPACES[rand(WORKSPACES.length)] ?? 'ws-0', status: 'idle' }),
      ],
    ];
    // Warm-up.
    for (let i = 0; i < 200; i++) {
      const [, make] = filters[i % filters.length] ?? filters[0]!;
      await registry.list(make(), { limit: 50 });
    }
    const byFilter: Record<string, number[]> = {};
    const all: number[] = [];
    const record = (name: string, ms: number) => {
      const samples = byFilter[name] ?? [];
      samples.push(ms);
      byFilter[name] = samples;
      all.push(ms);
    };
    for (let i = 0; i < QUERIES; i++) {
      const [name, make] = filters[i % filters.length] ?? filters[0]!;
      const filter = make();
      let t = performance.now();
      const first = await registry.list(filter, { limit: 50 });
      let ms = performance.now() - t;
      record(name, ms);
      if (first.nextCursor && i % 2 === 0) {
        t = performance.now();
        await registry.list(filter, { limit: 50, cursor: first.nextCursor });
        ms = performance.now() - t;
        record(`${name} (cursor page)`, ms);
      }
    }
    const lookups: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const id = agents[rand(agents.length)]?.id ?? 'root';
      const t = performance.now();
      await store.agents.get(id);
      lookups.push(performance.now() - t);
    }
    const overall = stats(all);
    return {
      agents: imported,
      import: {
        ms: Math.round(importMs),
        baselineMs: Math.round(baselineMs),
        overBaseline: Math.round((importMs / baselineMs) * 100) / 100,
        budgetMs: IMPORT_BUDGET_MS,
        pass: importMs < IMPORT_BUDGET_MS,
      },
      queries: {
        ...overall,
        budgetP99Ms: QUERY_P99_BUDGET_MS,
        pass: overall.p99Ms < QUERY_P99_BUDGET_MS,
        byFilter: Object.fromEntries(
          Object.entries(byFilter).map(([name, samples]) => [name, stats(samples)]),
        ),
        baselinePrimaryKeyLookup: stats(lookups),
      },
    };
  } finally {
    await store.close();
    await drop();
  }
}

function rand(n: number): number {
  return Math.floor(Math.random() * n);
}

const results: Record<string, unknown> = {};
for (const dialect of ['sqlite', 'postgres'] as const) {
  if (opts.only && opts.only !== dialect) continue;
  results[dialect] = await runDialect(dialect);
}
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'registry',
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memGb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        loadAvg1m: loadavg()[0],
      },
      ...results,
    },
    null,
    2,
  )}\n`,
);
