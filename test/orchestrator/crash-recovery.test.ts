import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_POSTGRES_URL } from '../../src/store/test-stores.ts';
import { killAll, type RunningZiggie, startServer } from '../helpers/cli-runner.ts';
import { waitFor } from '../helpers/ziggie-harness.ts';

/**
 * Issue 4 §9: `kill -9` of the Ziggie process with 1,000 tasks in flight, restart, every task
 * completes exactly once. The tasks run on `http` agents that POST to a recorder in this process
 * (it answers after a short delay, so that many attempts are in flight when the process dies).
 * After the restart (same `orchestrator.nodeId`), the attempts the dead process held are re-driven
 * at once; the database must show each task COMPLETED with exactly one COMPLETED transition, and
 * the recorder that every task ran (a task in flight at the crash may have run twice: the agent
 * work is at least once, the completion exactly once).
 */

const TASKS = 1000;
const AGENTS = 4;
const CAPACITY = 16;

interface Backend {
  name: 'sqlite' | 'postgres';
  storage(dir: string): Promise<Record<string, unknown>>;
  query(dir: string, text: string): Promise<Array<Record<string, unknown>>>;
  drop(): Promise<void>;
}

const sqlite: Backend = {
  name: 'sqlite',
  storage: async (dir) => ({ dataDir: join(dir, 'data') }),
  async query(dir, text) {
    const db = new DatabaseSync(join(dir, 'data', 'ziggie.db'), { readOnly: true });
    try {
      return db.prepare(text).all() as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  },
  drop: async () => {},
};

function postgres(): Backend {
  const database = `ziggie_crash_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(TEST_POSTGRES_URL);
  const admin = () => new pg.Client({ connectionString: TEST_POSTGRES_URL });
  url.pathname = `/${database}`;
  const run = async (connectionString: string, text: string) => {
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      return (await client.query(text)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    async storage(dir) {
      const client = admin();
      await client.connect();
      await client.query(`create database ${database}`);
      await client.end();
      return { dataDir: join(dir, 'data'), url: url.toString() };
    },
    query: (_dir, text) => run(url.toString(), text),
    async drop() {
      await run(TEST_POSTGRES_URL, `drop database if exists ${database} with (force)`);
    },
  };
}

describe.each([sqlite, postgres()])('crash recovery ($name)', (backend) => {
  let dir: string;
  let recorder: Server;
  let recorderUrl: string;
  /** Task id → how many times an agent ran it. */
  const runs = new Map<string, number>();
  let server: RunningZiggie | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ziggie-crash-'));
    recorder = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        const { task } = JSON.parse(body) as { task: { id: string } };
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
        setTimeout(() => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ done: task.id }));
        }, 20);
      });
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/work`;
  });

  afterAll(async () => {
    await server?.stop();
    killAll();
    recorder?.close();
    await backend.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes every one of 1,000 tasks exactly once after a kill -9 mid-run', async () => {
    const config = {
      storage: await backend.storage(dir),
      orchestrator: {
        nodeId: 'crash-node',
        leaseMs: 5000,
        sweepIntervalMs: 100,
        maxConcurrentRuns: AGENTS * CAPACITY,
        retry: { initialDelayMs: 10, maxDelayMs: 100 },
      },
    };
    server = await startServer(dir, config);
    const api = (url: string) => async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return response.json();
    };
    let call = api(server.url);
    for (let i = 0; i < AGENTS; i++) {
      await call('POST', '/api/agents', {
        id: `worker-${i}`,
        name: `worker ${i}`,
        tier: 'L3',
        skills: ['work'],
        capacity: CAPACITY,
        executor: { type: 'http', url: recorderUrl, retries: 0 },
      });
    }
    const ids: string[] = [];
    // Submitted by skills, 8 at a time; the runner starts on them while the rest arrive.
    for (let i = 0; i < TASKS; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, TASKS - i) }, (_, j) =>
          call('POST', '/api/tasks', { taskType: 'crash', skills: ['work'], input: { n: i + j } }),
        ),
      );
      ids.push(...batch.map((task: { id: string }) => task.id));
    }
    await waitFor(() => runs.size >= TASKS / 4, 60_000, 'a quarter of the tasks to run');
    await server.crash();
    const before = runs.size;
    expect(before).toBeLessThan(TASKS);

    server = await startServer(dir, config);
    call = api(server.url);
    await waitFor(
      async () => {
        const [row] = await backend.query(dir, "select count(*) as n from tasks where status = 'COMPLETED'");
        return Number(row?.n) === TASKS;
      },
      120_000,
      'every task to complete after the restart',
    );
    await server.stop();
    server = undefined;

    const completions = await backend.query(
      dir,
      "select task_id, count(*) as n from task_transitions where to_status = 'COMPLETED' group by task_id",
    );
    expect(completions).toHaveLength(TASKS);
    expect(completions.every((row) => Number(row.n) === 1)).toBe(true);
    expect(new Set(completions.map((row) => row.task_id))).toEqual(new Set(ids));
    // Every task ran; only those in flight at the crash may have run twice.
    expect(ids.every((id) => (runs.get(id) ?? 0) >= 1)).toBe(true);
    const twice = ids.filter((id) => (runs.get(id) ?? 0) > 1);
    expect(twice.length).toBeLessThanOrEqual(AGENTS * CAPACITY);
    // The output of each is the one answer the agent gave for it.
    const outputs = await backend.query(dir, 'select id, output_json from tasks');
    expect(outputs.every((row) => JSON.parse(String(row.output_json)).done === row.id)).toBe(true);
    const [redriven] = await backend.query(
      dir,
      "select count(*) as n from task_transitions where reason = 'lease_expired'",
    );
    expect(Number(redriven?.n)).toBeGreaterThan(0);
  }, 240_000);
});
