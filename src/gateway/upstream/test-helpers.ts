import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { pino } from 'pino';
import type { StdioUpstreamSpec } from '../../core/upstream-spec.ts';
import { processTree } from './process-tree.ts';
import type { UpstreamClientRequestMethod, UpstreamHooks, UpstreamStatus, UpstreamTimings } from './types.ts';

/** Shared by the upstream tests only (not exported from the room's index). */

export const EVERYTHING = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-everything/dist/index.js',
);

export const silentLogger = pino({ level: 'silent' });

export const FAST_TIMINGS: UpstreamTimings = {
  callTimeoutMs: 5000,
  healthIntervalMs: 0,
  connectTimeoutMs: 10_000,
  restartInitialDelayMs: 400,
  restartMaxDelayMs: 2000,
  breakerThreshold: 3,
  breakerHalfOpenAfterMs: 60_000,
};

export function everythingStdio(overrides: Partial<StdioUpstreamSpec> = {}): StdioUpstreamSpec {
  return {
    name: 'everything',
    enabled: true,
    connect: 'eager',
    protocol: 'auto',
    transport: 'stdio',
    command: process.execPath,
    args: [EVERYTHING, 'stdio'],
    env: {},
    ...overrides,
  };
}

export interface RecordedRequest {
  server: string;
  method: UpstreamClientRequestMethod;
  params: Record<string, unknown> | undefined;
}

/** Hooks that record everything; `answer` decides what server-to-client requests get. */
export function recordingHooks(
  answer: (request: RecordedRequest) => Record<string, unknown> = () => ({}),
): UpstreamHooks & {
  states: UpstreamStatus[];
  requests: RecordedRequest[];
  notifications: { server: string; method: string; params: Record<string, unknown> | undefined }[];
} {
  const states: UpstreamStatus[] = [];
  const requests: RecordedRequest[] = [];
  const notifications: { server: string; method: string; params: Record<string, unknown> | undefined }[] = [];
  return {
    states,
    requests,
    notifications,
    async onClientRequest(server, method, params) {
      const request = { server, method, params };
      requests.push(request);
      return answer(request);
    },
    onNotification(server, method, params) {
      notifications.push({ server, method, params });
    },
    onStateChange(status) {
      states.push(status);
    },
  };
}

/** Polls `predicate` every 10 ms; rejects with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/**
 * Runs `node <script> ...args` and resolves once a line of its stdout or stderr matches `ready`
 * (the first capture group is returned).
 */
export async function spawnUntil(
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; match: string }> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const match = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not get ready`)), 10_000);
    const onData = (chunk: Buffer) => {
      const found = ready.exec(String(chunk));
      if (found) {
        clearTimeout(timer);
        resolve(found[1] ?? found[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  return { child, match };
}

/** Pids of this process's descendants whose command line contains `text` (Linux /proc). */
export function descendantsRunning(text: string): number[] {
  return processTree(process.pid)
    .slice(1)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    });
}
