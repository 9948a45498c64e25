/**
 * The gateway benchmark (`npm run bench:gateway`), against the budgets in DESIGN.md:
 *
 * - `tools/call` of an echo tool, with the official SDK client (v1, as most clients in use are),
 *   sequential (p50/p99) and at a fixed concurrency (calls/s), against
 *   (a) the floor — a bare node:http JSON-RPC endpoint (floor-server.ts),
 *   (b) Ziggie in front of server-everything over stdio (`everything__echo` on `/mcp`),
 *   (c) server-everything directly over stdio;
 *   (d) a 2026-07-28 client (SDK v2, pinned: stateless) on the same Ziggie, and (a') the floor
 *   answering that client statelessly;
 *   budget: (b) adds ≤ 0.15 ms p50 over (a) and reaches ≥ 80% of (a)'s calls/s; the same for (d)
 *   over (a'), the floor of the same client.
 *   The three are measured in rounds, back to back within each round, so that all three see the
 *   same load from whatever else runs on the machine; figures are pooled or medians over rounds.
 * - one elicitation round (server-everything's `trigger-elicitation-request`): a 2026 client
 *   through Ziggie (bridged: `input_required`, a held upstream call, the client's retry), a 2025
 *   client through Ziggie (over its session) and a 2025 client directly; each against its own echo
 *   calls in the same round, for the time one round of input adds on each path.
 * - aggregated `tools/list` on Ziggie's `/mcp` over 10 stdio servers with 1,000 tools in total,
 *   warm; budget: p50 < 5 ms.
 *
 * The HTTP servers (floor, Ziggie) run in their own processes, so none shares a thread with the
 * client. Progress goes to stderr, one JSON document to stdout. Every child is stopped at the end.
 *
 * Options: --calls N (2000 per round), --rounds N (5), --concurrency N (16), --list-calls N (500),
 * --elicit-calls N (300 per round), --only echo|elicit|list,
 * --prof-dir DIR (run the Ziggie processes with --cpu-prof, profiles written to DIR).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stringify } from 'yaml';
import {
  type CallTool,
  type CpuProbe,
  callToolOf,
  connect,
  connectModern,
  EVERYTHING_ENTRY,
  echoCall,
  openEverythingDirect,
} from './clients.ts';
import { benchElicit } from './elicitation.ts';
import { childPids, concurrent, cpuOf, median, percentile, round, sequential } from './measure.ts';
import { killAll, startServer, stopServer } from './processes.ts';
import { benchToolsList } from './tools-list.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

const ADDED_P50_BUDGET_MS = 0.15;
const THROUGHPUT_BUDGET = 0.8;

const { values: opts } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    'list-calls': { type: 'string', default: '500' },
    'elicit-calls': { type: 'string', default: '300' },
    only: { type: 'string' },
    'prof-dir': { type: 'string' },
  },
});
const CALLS = Number(opts.calls);
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = Number(opts.concurrency);
const LIST_CALLS = Number(opts['list-calls']);
const ELICIT_CALLS = Number(opts['elicit-calls']);
const PROF_DIR = opts['prof-dir'] ? resolve(opts['prof-dir']) : undefined;

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface EchoFigures {
  /** Over the sequential calls of every round, pooled. */
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Each round's p50, in round order. */
  p50MsByRound: number[];
  /** Median over rounds of the calls/s reached by `concurrency` callers. */
  callsPerSec: number;
  callsPerSecByRound: number[];
  /** CPU time per call (µs) of the server process, median over rounds (Linux only). */
  serverCpuUsPerCall?: number;
  /** Of which in the kernel (system time: socket and pipe I/O, wake-ups). */
  serverSystemCpuUsPerCall?: number;
  /** For Ziggie: its upstream's (server-everything), besides the above. */
  upstreamCpuUsPerCall?: number;
  /** The benchmark's own process (the SDK client): the third party sharing the CPUs. */
  clientCpuUsPerCall: number;
}

/** One row of the echo benchmark: a connected client and the processes whose CPU time is counted. */
interface EchoTarget {
  name: 'floor' | 'floorModern' | 'ziggie' | 'modern' | 'direct';
  callTool: CallTool;
  tool: string;
  probe?: CpuProbe;
  close(): Promise<void>;
}

/** What one round measured of one target. */
interface RoundFigures {
  latencies: number[];
  callsPerSec: number;
  server?: number;
  serverSystem?: number;
  upstream?: number;
  client: number;
}

/**
 * JIT, connection pool, the upstream's own warm-up: one unmeasured round (`CALLS` sequential, then
 * `CALLS` concurrent). Shorter warm-ups left each row still getting faster over the first rounds.
 */
async function warmUp(target: EchoTarget): Promise<void> {
  const call = echoCall(target);
  await sequential(CALLS, call);
  await concurrent(CALLS, CONCURRENCY, call);
}

/** `CALLS` sequential calls, then `CALLS` at `CONCURRENCY`, with the CPU time they cost. */
async function measureRound(target: EchoTarget): Promise<RoundFigures> {
  const call = echoCall(target);
  const before = {
    server: cpuOf(target.probe?.server),
    upstream: cpuOf(target.probe?.upstream),
    client: process.cpuUsage(),
  };
  const latencies = await sequential(CALLS, call);
  const callsPerSec = await concurrent(CALLS, CONCURRENCY, call);
  const clientCpu = process.cpuUsage(before.client);
  const after = { server: cpuOf(target.probe?.server), upstream: cpuOf(target.probe?.upstream) };
  const usPerCall = (ms: number) => (ms * 1000) / (2 * CALLS);
  return {
    latencies,
    callsPerSec,
    ...(before.server && after.server
      ? {
          server: usPerCall(after.server.total - before.server.total),
          serverSystem: usPerCall(after.server.system - before.server.system),
        }
      : {}),
    ...(before.upstream && after.upstream
      ? { upstream: usPerCall(after.upstream.total - before.upstream.total) }
      : {}),
    client: usPerCall((clientCpu.user + clientCpu.system) / 1000),
  };
}

function summarise(rounds: RoundFigures[]): EchoFigures {
  const pooled = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const cpu = (pick: (r: RoundFigures) => number | undefined) => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined);
    return values.length === rounds.length ? Math.round(median(values)) : undefined;
  };
  const server = cpu((r) => r.server);
  const serverSystem = cpu((r) => r.serverSystem);
  const upstream = cpu((r) => r.upstream);
  return {
    p50Ms: round(percentile(pooled, 0.5)),
    p99Ms: round(percentile(pooled, 0.99)),
    meanMs: round(pooled.reduce((a, b) => a + b, 0) / pooled.length),
    p50MsByRound: rounds.map((r) =>
      round(
        percentile(
          [...r.latencies].sort((a, b) => a - b),
          0.5,
        ),
      ),
    ),
    callsPerSec: Math.round(median(rounds.map((r) => r.callsPerSec))),
    callsPerSecByRound: rounds.map((r) => Math.round(r.callsPerSec)),
    ...(server === undefined ? {} : { serverCpuUsPerCall: server }),
    ...(serverSystem === undefined ? {} : { serverSystemCpuUsPerCall: serverSystem }),
    ...(upstream === undefined ? {} : { upstreamCpuUsPerCall: upstream }),
    clientCpuUsPerCall: cpu((r) => r.client) ?? 0,
  };
}

/**
 * (a) the floor, with the v1 client (2025-11-25, a session), and (a') the same floor process with
 * the v2 client pinned to 2026-07-28 (stateless): the floor of each client era.
 */
async function openFloors(): Promise<EchoTarget[]> {
  progress('echo (a) floor: starting floor-server.ts');
  const { url, child } = await startServer('floor-server.ts', []);
  const probe = { server: [child.pid!] };
  const legacy = await connect(new StreamableHTTPClientTransport(new URL(url)));
  const modern = await connectModern(url);
  return [
    { name: 'floor', callTool: callToolOf(legacy), tool: 'echo', probe, close: () => legacy.close() },
    {
      name: 'floorModern',
      callTool: callToolOf(modern),
      tool: 'echo',
      probe,
      close: async () => {
        await modern.close();
        await stopServer(child);
      },
    },
  ];
}

/** The Ziggie the echo and elicitation rows share: server-everything over stdio behind `/mcp`. */
interface ZiggieProcess {
  mcpUrl: string;
  probe: CpuProbe;
  stop(): Promise<void>;
}

async function startEchoZiggie(dir: string): Promise<ZiggieProcess> {
  progress('echo (b) ziggie: starting Ziggie with server-everything over stdio');
  const config = join(dir, 'echo.yaml');
  writeZiggieConfig(config, join(dir, 'echo-data'), {
    everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio'] },
  });
  const { url, child } = await startServer('ziggie-server.ts', [config, '1'], { profileDir: PROF_DIR });
  return {
    mcpUrl: `${url}/mcp`,
    probe: { server: [child.pid!], upstream: childPids(child.pid) },
    stop: () => stopServer(child),
  };
}

/** (b) a 2025-11-25 client (SDK v1, a session) on Ziggie. */
async function openZiggie(ziggie: ZiggieProcess): Promise<EchoTarget> {
  const client = await connect(new StreamableHTTPClientTransport(new URL(ziggie.mcpUrl)));
  return {
    name: 'ziggie',
    callTool: callToolOf(client),
    tool: 'everything__echo',
    probe: ziggie.probe,
    close: () => client.close(),
  };
}

/** (d) a 2026-07-28 client (SDK v2, stateless) on the same Ziggie and endpoint. */
async function openModern(ziggie: ZiggieProcess): Promise<EchoTarget> {
  progress('echo (d) modern: a 2026-07-28 client on the same Ziggie');
  const client = await connectModern(ziggie.mcpUrl);
  return {
    name: 'modern',
    callTool: callToolOf(client),
    tool: 'everything__echo',
    probe: ziggie.probe,
    close: () => client.close(),
  };
}

async function openDirect(): Promise<EchoTarget> {
  progress('echo (c) direct: starting server-everything over stdio');
  const { client, probe, close } = await openEverythingDirect();
  return { name: 'direct', callTool: callToolOf(client), tool: 'echo', ...(probe ? { probe } : {}), close };
}

/**
 * The echo rows, measured in `ROUNDS` rounds of the floors (both clients), Ziggie (2025 client),
 * Ziggie (2026 client) and direct back to back.
 */
async function benchEcho(ziggie: ZiggieProcess): Promise<Record<EchoTarget['name'], EchoFigures>> {
  const targets: EchoTarget[] = [];
  try {
    targets.push(
      ...(await openFloors()),
      await openZiggie(ziggie),
      await openModern(ziggie),
      await openDirect(),
    );
    for (const target of targets) {
      progress(`echo: warming up ${target.name}`);
      await warmUp(target);
    }
    const rounds = new Map<EchoTarget['name'], RoundFigures[]>(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`echo: round ${round} of ${ROUNDS}`);
      for (const target of targets) rounds.get(target.name)!.push(await measureRound(target));
    }
    return {
      floor: summarise(rounds.get('floor')!),
      floorModern: summarise(rounds.get('floorModern')!),
      ziggie: summarise(rounds.get('ziggie')!),
      modern: summarise(rounds.get('modern')!),
      direct: summarise(rounds.get('direct')!),
    };
  } finally {
    for (const target of targets) await target.close();
  }
}

/** The commit measured, and whether src/ differs from it. */
function codeVersion(): { commit: string; srcModified: boolean } | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      srcModified: git('status', '--porcelain', 'src') !== '',
    };
  } catch {
    return undefined;
  }
}

function writeZiggieConfig(path: string, dataDir: string, mcpServers: Record<string, unknown>): void {
  writeFileSync(
    path,
    stringify({
      mcpServers,
      server: { host: '127.0.0.1', port: 0 },
      storage: { dataDir },
      logging: { level: 'silent' },
    }),
  );
}

// ---------------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'ziggie-bench-'));
if (PROF_DIR) mkdirSync(PROF_DIR, { recursive: true });
const cpuList = cpus();
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    totalMemGiB: round(totalmem() / 2 ** 30, 1),
    loadAvg1m: round(loadavg()[0] ?? 0, 2),
  },
  code: codeVersion(),
  settings: {
    calls: CALLS,
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    listCalls: LIST_CALLS,
    elicitCalls: ELICIT_CALLS,
  },
};

/** The `tools/call` budget of a row through Ziggie against the floor, measured in the same rounds. */
function budgetOf(row: EchoFigures, floor: EchoFigures) {
  const addedP50Ms = round(row.p50Ms - floor.p50Ms);
  // Per round (the floor and the row measured back to back), then the median.
  const ratios = row.callsPerSecByRound.map((perSec, i) => perSec / floor.callsPerSecByRound[i]!);
  const throughputRatio = round(median(ratios));
  return {
    addedP50Ms,
    addedP50BudgetMs: ADDED_P50_BUDGET_MS,
    throughputRatio,
    throughputRatioByRound: ratios.map((r) => round(r)),
    throughputBudget: THROUGHPUT_BUDGET,
    pass: addedP50Ms <= ADDED_P50_BUDGET_MS && throughputRatio >= THROUGHPUT_BUDGET,
  };
}

try {
  const only = opts.only;
  if (only === undefined || only === 'echo' || only === 'elicit') {
    const ziggie = await startEchoZiggie(dir);
    try {
      if (only !== 'elicit') {
        const echo = await benchEcho(ziggie);
        report.echo = echo;
        report.budget = budgetOf(echo.ziggie, echo.floor);
        // The 2026-07-28 client on the same Ziggie (issue 7 §6), against the floor with the same
        // client, and (for the record) against the 2025 client's floor.
        report.budgetModern = budgetOf(echo.modern, echo.floorModern);
        report.budgetModernVsLegacyFloor = budgetOf(echo.modern, echo.floor);
      }
      if (only !== 'echo') {
        const elicit = await benchElicit(ziggie, { rounds: ROUNDS, calls: ELICIT_CALLS, progress });
        report.elicitation = {
          ...elicit,
          // What the bridge adds per round of input, over the same round made directly.
          bridgeAddedPerRoundMs: round(elicit.modern.roundMs - elicit.direct.roundMs),
          // The same for a 2025 client, whose elicitation goes over its session.
          sessionAddedPerRoundMs: round(elicit.legacy.roundMs - elicit.direct.roundMs),
          bridgedOverSessionMs: round(elicit.modern.p50Ms - elicit.legacy.p50Ms),
          bridgedOverDirectMs: round(elicit.modern.p50Ms - elicit.direct.p50Ms),
        };
      }
    } finally {
      await ziggie.stop();
    }
  }
  if (only === undefined || only === 'list')
    report.toolsList = await benchToolsList({
      dir,
      calls: LIST_CALLS,
      ...(PROF_DIR ? { profileDir: PROF_DIR } : {}),
      connect,
      writeConfig: writeZiggieConfig,
      progress,
    });
  // Other work on the machine skews the figures: the load at the end tells whether there was any.
  (report.machine as Record<string, unknown>).loadAvg1mAtEnd = round(loadavg()[0] ?? 0, 2);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
