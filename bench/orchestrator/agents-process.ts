/**
 * The benchmark's agents, in a process of their own (forked by agents-pool.ts, driven over IPC):
 * connects one SDK `connectAgent` per key with a no-op handler (it returns at once), counts the
 * handler calls, and tells the parent when they reach what it expects, with the wall-clock time.
 */
import { type AgentConnection, connectAgent } from '../../sdk/src/index.ts';
import type { AgentsReport, AgentsRequest } from './agents-pool.ts';

const agents: AgentConnection[] = [];
let handled = 0;
let expected = Number.POSITIVE_INFINITY;
let firstAt = 0;
let lastAt = 0;
let errors = 0;

const wallClock = () => performance.timeOrigin + performance.now();
const send = (message: AgentsReport) => process.send?.(message);

function handler(): null {
  handled++;
  lastAt = wallClock();
  if (handled === 1) firstAt = lastAt;
  if (handled === expected) send({ type: 'reached', handled, at: lastAt });
  return null;
}

function onError(error: Error): void {
  errors++;
  if (errors <= 5) process.stderr.write(`[agents] ${error.message}\n`);
}

async function connect(url: string, tokens: string[], concurrency: number, wave: number): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < tokens.length; i += wave) {
    const batch = tokens
      .slice(i, i + wave)
      .map((token) => connectAgent({ url, token, concurrency, handler, onError }));
    agents.push(...batch);
    await Promise.all(batch.map((agent) => agent.connected));
  }
  send({ type: 'connected', count: agents.length, ms: performance.now() - started });
}

process.on('message', (message: AgentsRequest) => {
  switch (message.type) {
    case 'connect':
      connect(message.url, message.tokens, message.concurrency, message.wave).catch((error: Error) =>
        send({ type: 'failed', message: error.message }),
      );
      return;
    case 'expect':
      expected = message.handled;
      if (handled >= expected) send({ type: 'reached', handled, at: lastAt });
      return;
    case 'stats': {
      const cpu = process.cpuUsage();
      send({
        type: 'stats',
        handled,
        firstAt,
        lastAt,
        errors,
        cpuMs: (cpu.user + cpu.system) / 1000,
        rssMiB: Math.round((process.memoryUsage.rss() / 2 ** 20) * 10) / 10,
      });
      return;
    }
    case 'close':
      void Promise.all(agents.map((agent) => agent.close())).finally(() => {
        send({ type: 'closed' });
        process.disconnect();
      });
      return;
  }
});
// The parent is gone: nothing left to do.
process.on('disconnect', () => process.exit(0));
