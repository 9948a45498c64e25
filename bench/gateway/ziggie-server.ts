/**
 * Starts one Ziggie for the benchmark, in its own process so it does not share a CPU thread with
 * the benchmark's client: `node bench/gateway/ziggie-server.ts <ziggie.yaml> [expected tool count]`.
 * Uses the real config loading and composition root with a silent logger, waits until the
 * aggregate view lists the expected number of tools, prints `LISTENING <base url>` on stdout and
 * stops (upstream children included) when stdin closes or on SIGTERM/SIGINT, exiting normally so
 * `--cpu-prof` can write its profile.
 */
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import { Ziggie } from '../../src/ziggie.ts';

const [path, expected = '1'] = process.argv.slice(2);
if (!path) throw new Error('usage: ziggie-server.ts <ziggie.yaml> [expected tool count]');

const ziggie = await Ziggie.start(await loadConfig({ path, env: process.env }), {
  logger: pino({ level: process.env.ZIGGIE_BENCH_LOG ?? 'silent' }),
});

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  void ziggie.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown).resume();

const baseUrl = await ziggie.listen();
// Upstreams are listed in the background once connected: wait for the catalog to be complete.
const deadline = Date.now() + 60_000;
const view = ziggie.gateway.aggregateView();
while (view.tools().length < Number(expected)) {
  if (Date.now() > deadline) throw new Error(`only ${view.tools().length} of ${expected} tools listed`);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
process.stdout.write(`LISTENING ${baseUrl}\n`);
