import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './processes.ts';

/** Parent → agents process. */
export type AgentsRequest =
  | { type: 'connect'; url: string; tokens: string[]; concurrency: number; wave: number }
  | { type: 'expect'; handled: number }
  | { type: 'stats' }
  | { type: 'close' };

export interface AgentsStats {
  handled: number;
  /** Wall-clock ms (`performance.timeOrigin + performance.now()`) of the first and last handler call. */
  firstAt: number;
  lastAt: number;
  errors: number;
  cpuMs: number;
  rssMiB: number;
}

/** Agents process → parent. */
export type AgentsReport =
  | { type: 'connected'; count: number; ms: number }
  | { type: 'reached'; handled: number; at: number }
  | ({ type: 'stats' } & AgentsStats)
  | { type: 'failed'; message: string }
  | { type: 'closed' };

/** The agents process (agents-process.ts) as the benchmark drives it. */
export interface AgentsPool {
  pid: number;
  /** Connects one agent per key, `wave` at a time; resolves once all are connected (ms taken). */
  connect(url: string, tokens: string[], concurrency: number, wave?: number): Promise<number>;
  /** Resolves with the wall-clock time the handler calls reached `handled`. */
  reached(handled: number): Promise<number>;
  stats(): Promise<AgentsStats>;
  /** Closes every agent and waits for the process to exit (SIGKILL after 10 s). */
  close(): Promise<void>;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'agents-process.ts');

export function startAgentsPool(): AgentsPool {
  const child: ChildProcess = track(fork(SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const next = <T extends AgentsReport['type']>(type: T) =>
    new Promise<Extract<AgentsReport, { type: T }>>((resolve, reject) => {
      const onMessage = (message: AgentsReport) => {
        if (message.type === 'failed') settle(() => reject(new Error(`agents: ${message.message}`)));
        else if (message.type === type) settle(() => resolve(message as Extract<AgentsReport, { type: T }>));
      };
      const onExit = (code: number | null) =>
        settle(() => reject(new Error(`agents process exited (${code})`)));
      const settle = (fn: () => void) => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        fn();
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ask = (message: AgentsRequest) => child.send(message);
  return {
    pid: child.pid ?? -1,
    async connect(url, tokens, concurrency, wave = 100) {
      const connected = next('connected');
      ask({ type: 'connect', url, tokens, concurrency, wave });
      return (await connected).ms;
    },
    async reached(handled) {
      const reached = next('reached');
      ask({ type: 'expect', handled });
      return (await reached).at;
    },
    async stats() {
      const stats = next('stats');
      ask({ type: 'stats' });
      const { type: _type, ...figures } = await stats;
      return figures;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      ask({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
