import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import { Ziggie } from '../../src/ziggie.ts';

/** Path of the everything server's entry, run with the Node that runs the tests. */
export const EVERYTHING_ENTRY = join(
  process.cwd(),
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

/** An `mcpServers` entry running server-everything over stdio. */
export function everythingStdio(): Record<string, unknown> {
  return { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio'] };
}

export interface Harness {
  ziggie: Ziggie;
  baseUrl: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts a real Ziggie (real config loading, SQLite file, upstream processes, HTTP on a random
 * loopback port) from a config object written as ziggie.yaml into a temp directory.
 */
export async function startZiggie(config: Record<string, unknown>): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ziggie-test-'));
  const path = join(dir, 'ziggie.yaml');
  const server = (config.server as Record<string, unknown> | undefined) ?? {};
  const storage = (config.storage as Record<string, unknown> | undefined) ?? {};
  writeFileSync(
    path,
    stringify({ ...config, server: { port: 0, ...server }, storage: { dataDir: dir, ...storage } }),
  );
  const resolved = await loadConfig({ path, env: process.env });
  const ziggie = await Ziggie.start(resolved, {
    logger: pino({ level: process.env.ZIGGIE_TEST_LOG ?? 'silent' }),
  });
  const baseUrl = await ziggie.listen();
  return {
    ziggie,
    baseUrl,
    dir,
    async stop() {
      await ziggie.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `predicate` holds, polling every 25 ms; fails after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
