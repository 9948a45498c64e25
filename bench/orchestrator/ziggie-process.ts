import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stringify } from 'yaml';
import { onCleanup, removeDir, track, trackDir } from './processes.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The admin's key: `ZIGGIE_BOOTSTRAP_TOKEN` at the first start of each fresh database. */
export const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;

export type Dialect = 'sqlite' | 'postgres';

/** Where a Ziggie keeps its data: a temp dir (SQLite) or a fresh database (PostgreSQL). */
export interface Storage {
  dialect: Dialect;
  dir: string;
  /** The PostgreSQL database's URL; undefined on SQLite (`<dir>/data/ziggie.db`). */
  url: string | undefined;
  /** Removes the dir and drops the database. */
  drop(): Promise<void>;
}

/** A temp dir, and on PostgreSQL a database created for this run (`<base url>` names the server). */
export async function freshStorage(dialect: Dialect, baseUrl: string): Promise<Storage> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ziggie-bench-orch-')));
  if (dialect === 'sqlite') {
    return { dialect, dir, url: undefined, drop: async () => removeDir(dir) };
  }
  const database = `ziggie_bench_${randomBytes(5).toString('hex')}`;
  await adminQuery(baseUrl, `create database ${database}`);
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  const drop = async () => {
    forget();
    removeDir(dir);
    // FORCE: a connection a killed server left behind must not keep the database.
    await adminQuery(baseUrl, `drop database if exists ${database} with (force)`);
  };
  const forget = onCleanup(drop);
  return { dialect, dir, url: url.toString(), drop };
}

async function adminQuery(url: string, statement: string): Promise<Array<Record<string, string>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statement)).rows;
  } finally {
    await client.end();
  }
}

/** The PostgreSQL server's version and durability settings, for the report. */
export async function postgresSettings(url: string): Promise<Record<string, string>> {
  const rows = await adminQuery(
    url,
    `select name, setting from pg_settings where name in ('server_version', 'synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
}

export interface ZiggieProcess {
  url: string;
  pid: number;
  /** Its `storage.dataDir` (on SQLite the database is `<dataDir>/ziggie.db`). */
  dataDir: string;
  /** VmRSS and VmHWM (peak) of the server process, in MiB. */
  memory(): { rssMiB: number; peakRssMiB: number };
  /** SIGTERM (a clean stop: the CPU profile, if any, is written); SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * Runs the real CLI, `node bin/ziggie.js start --config <dir>/ziggie.yaml` (port 0, loopback,
 * `auth.mode: required`, the admin key from `ZIGGIE_BOOTSTRAP_TOKEN`), and resolves once its banner
 * is out. `profileDir`: run it with `--cpu-prof`.
 */
export async function startZiggie(
  storage: Storage,
  options: { profileDir?: string | undefined; name: string },
): Promise<ZiggieProcess> {
  const config = join(storage.dir, `${options.name}.yaml`);
  const dataDir = join(storage.dir, options.name);
  writeFileSync(
    config,
    stringify({
      server: { host: '127.0.0.1', port: 0 },
      storage: { dataDir, ...(storage.url ? { url: storage.url } : {}) },
      // Requests are not logged at any level; warn keeps agent connects and the like out of the way.
      logging: { level: 'warn' },
      auth: { mode: 'required' },
    }),
  );
  const nodeArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const { ZIGGIE_URL: _u, ZIGGIE_TOKEN: _t, ...env } = process.env;
  const child = track(
    spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin/ziggie.js'), 'start', '--config', config], {
      cwd: storage.dir,
      env: { ...env, ZIGGIE_BOOTSTRAP_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line) process.stderr.write(`[ziggie] ${line}\n`);
  });
  const banner = await new Promise<string>((resolveBanner, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('ziggie start: no banner within 60 s')), 60_000);
    const onExit = (code: number | null) => reject(new Error(`ziggie start exited (${code})`));
    child.once('exit', onExit);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (!text.includes('  auth ')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolveBanner(text);
    });
  });
  const url = /^Ziggie (http:\/\/\S+)/.exec(banner)?.[1];
  if (!url || child.pid === undefined) throw new Error(`unexpected banner: ${banner}`);
  const pid = child.pid;
  return {
    url,
    pid,
    dataDir,
    memory: () => memoryOf(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** VmRSS and VmHWM of a process from /proc/<pid>/status (Linux), in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: round1(kib('VmRSS') / 1024), peakRssMiB: round1(kib('VmHWM') / 1024) };
}

const round1 = (n: number) => Math.round(n * 10) / 10;
