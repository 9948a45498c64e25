import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';

/** The real `bin/ziggie.js`, run as a child process with argument arrays (never a shell). */
export const BIN = join(process.cwd(), 'bin/ziggie.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Children still running; `killAll` ends them whatever happened. */
const children = new Set<ChildProcess>();

export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}

/**
 * Runs `ziggie <args>` to completion in `cwd`, with `ZIGGIE_URL`, `ZIGGIE_TOKEN` and
 * `ZIGGIE_BOOTSTRAP_TOKEN` unset unless given; stdin gets `input` (or is closed at once).
 */
export function ziggie(
  args: readonly string[],
  { cwd, env = {}, input }: { cwd: string; env?: Record<string, string>; input?: string },
): Promise<Run> {
  const { ZIGGIE_URL: _u, ZIGGIE_TOKEN: _t, ZIGGIE_BOOTSTRAP_TOKEN: _b, ...inherited } = process.env;
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...inherited, ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failed run: exit 1, exactly one line `ziggie: <CODE>: …` on stderr. */
export function expectFailure(run: Run, code: string, message: RegExp | string): void {
  expect(run.stderr).toMatch(/^ziggie: [A-Z_]+: [^\n]+\n$/);
  expect(run.stderr.startsWith(`ziggie: ${code}: `), run.stderr).toBe(true);
  const text = run.stderr.slice(`ziggie: ${code}: `.length, -1);
  if (typeof message === 'string') expect(text).toBe(message);
  else expect(text).toMatch(message);
  expect(run.code).toBe(1);
}

/** A running `ziggie start`: its bound URL, its start banner, and a way to stop it (SIGTERM). */
export interface RunningZiggie {
  url: string;
  banner: string;
  /** Sends SIGTERM and resolves with the exit code (0 for a clean stop). */
  stop(): Promise<number | null>;
  /** `kill -9`: no clean stop at all; resolves once the process is gone. */
  crash(): Promise<void>;
}

/** Writes `config` as `<dir>/ziggie.yaml` (port 0, data in `<dir>/data`) and runs `ziggie start` on it. */
export async function startServer(dir: string, config: Record<string, unknown>): Promise<RunningZiggie> {
  const path = join(dir, 'ziggie.yaml');
  writeFileSync(path, stringify({ server: { port: 0 }, storage: { dataDir: join(dir, 'data') }, ...config }));
  return startZiggieAt(path, dir);
}

/** Runs `ziggie start --config <path>` in `cwd` and resolves once its banner (ending with the auth lines) is out. */
export async function startZiggieAt(path: string, cwd: string): Promise<RunningZiggie> {
  const server = spawn(process.execPath, [BIN, 'start', '--config', path], { cwd, env: process.env });
  children.add(server);
  server.stderr?.resume();
  const banner = await new Promise<string>((resolve, reject) => {
    let text = '';
    server.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('  auth ')) resolve(text);
    });
    server.on('exit', (code) => reject(new Error(`ziggie start exited with ${code}`)));
  });
  const url = /^Ziggie (http:\/\/\S+)\n/.exec(banner)?.[1] ?? '';
  return {
    url,
    banner,
    async stop() {
      if (server.exitCode !== null) return server.exitCode;
      const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
      server.kill('SIGTERM');
      const code = await exited;
      children.delete(server);
      return code;
    },
    async crash() {
      if (server.exitCode !== null || server.signalCode !== null) return;
      const exited = new Promise((resolve) => server.on('exit', resolve));
      server.kill('SIGKILL');
      await exited;
      children.delete(server);
    },
  };
}
