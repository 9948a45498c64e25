/**
 * The gateway benchmark (`npm run bench:gateway`), against the budgets in DESIGN.md:
 *
 * - `tools/call` of an echo tool, with the official SDK client (v1, as most clients in use are),
 *   sequential (p50/p99) and at a fixed concurrency (calls/s), against
 *   (a) the floor — a bare node:http JSON-RPC endpoint (floor-server.ts),
 *   (b) Ziggie in front of server-everything over stdio (`everything__echo` on `/mcp`),
 *   (c) server-everything directly over stdio;
 *   (d) a 2026-07-28 client (SDK v2, pinned: stateless) on the same Ziggie;
 *   budget: (b), and apart (d), adds ≤ 0.15 ms p50 over (a) and reaches ≥ 80% of (a)'s calls/s.
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
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { stringify } from 'yaml';
import { childPids, concurrent, cpuOf, median, percentile, round, sequential } from './measure.ts';
import { killAll, startServer, stopServer } from './processes.ts';
import { benchToolsList } from './tools-list.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const EVERYTHING_ENTRY = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

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

/** Processes whose CPU time is reported: the server, and (for Ziggie) its upstream. */
interface CpuProbe {
  server: number[];
  upstream?: number[];
}

/** The answer every benchmark client gives server-everything's elicitation form. */
const ELICIT_ANSWER = {
  action: 'accept',
  content: { name: 'Ada', check: true, email: 'ada@example.com' },
} as const;

/** A 2025-era client (SDK v1); with `elicitation`, it answers elicitation requests at once. */
async function connect(transport: Transport, options: { elicitation?: boolean } = {}): Promise<Client> {
  const client = new Client(
    { name: 'ziggie-bench', version: '1.0.0' },
    options.elicitation ? { capabilities: { elicitation: {} } } : {},
  );
  if (options.elicitation) client.setRequestHandler(ElicitRequestSchema, async () => ELICIT_ANSWER);
  await client.connect(transport);
  return client;
}

/**
 * A 2026-07-28 client (SDK v2, pinned to that revision: no initialize, no session, every request on
 * its own); it answers elicitation from `input_required` results and retries, as hosts do.
 */
async function connectModern(url: string): Promise<ModernClient> {
  const client = new ModernClient(
    { name: 'ziggie-bench-2026', version: '1.0.0' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  client.setRequestHandler('elicitation/create', async () => ELICIT_ANSWER);
  await client.connect(new ModernHTTPClientTransport(new URL(url)));
  if (client.getNegotiatedProtocolVersion() !== '2026-07-28') {
    throw new Error(`the 2026 client negotiated ${client.getNegotiatedProtocolVersion()}`);
  }
  return client;
}

/** A tool call as both SDK clients make it: the result, or an error thrown. */
type CallTool = (
  name: string,
  args: Record<string, unknown>,
) => Promise<{ isError?: unknown; content?: unknown }>;

const callToolOf = (client: Client | ModernClient): CallTool =>
  client instanceof ModernClient
    ? (name, args) => client.callTool({ name, arguments: args })
    : // v1 also types the legacy `{ toolResult }` shape, which no server here answers.
      (name, args) => client.callTool({ name, arguments: args }) as ReturnType<CallTool>;

/** One row of the echo benchmark: a connected client and the processes whose CPU time is counted. */
interface EchoTarget {
  name: 'floor' | 'ziggie' | 'modern' | 'direct';
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

function echoCall(target: { callTool: CallTool; tool: string }): (i: number) => Promise<void> {
  return async (i) => {
    const result = await target.callTool(target.tool, { message: `hello ${i}` });
    if (result.isError) throw new Error(`${target.tool} failed: ${JSON.stringify(result.content)}`);
  };
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

async function openFloor(): Promise<EchoTarget> {
  progress('echo (a) floor: starting floor-server.ts');
  const { url, child } = await startServer('floor-server.ts', []);
  const client = await connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    name: 'floor',
    callTool: callToolOf(client),
    tool: 'echo',
    probe: { server: [child.pid!] },
    close: async () => {
      await client.close();
      await stopServer(child);
    },
  };
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

/** server-everything over stdio with its own SDK v1 client. */
async function openEverythingDirect(options: { elicitation?: boolean } = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [EVERYTHING_ENTRY, 'stdio'],
    stderr: 'ignore',
  });
  const client = await connect(transport, options);
  return {
    client,
    ...(transport.pid === null ? {} : { probe: { server: [transport.pid] } }),
    close: () => client.close(),
  };
}

async function openDirect(): Promise<EchoTarget> {
  progress('echo (c) direct: starting server-everything over stdio');
  const { client, probe, close } = await openEverythingDirect();
  return { name: 'direct', callTool: callToolOf(client), tool: 'echo', ...(probe ? { probe } : {}), close };
}

/**
 * The echo rows, measured in `ROUNDS` rounds of floor, Ziggie (2025 client), Ziggie (2026 client)
 * and direct back to back.
 */
async function benchEcho(ziggie: ZiggieProcess): Promise<Record<EchoTarget['name'], EchoFigures>> {
  const targets: EchoTarget[] = [];
  try {
    targets.push(await openFloor(), await openZiggie(ziggie), await openModern(ziggie), await openDirect());
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
      ziggie: summarise(rounds.get('ziggie')!),
      modern: summarise(rounds.get('modern')!),
      direct: summarise(rounds.get('direct')!),
    };
  } finally {
    for (const target of targets) await target.close();
  }
}

// ---------------------------------------------------------------------------------------------
// One elicitation round: server-everything's `trigger-elicitation-request` asks its client once.

const ELICIT_TOOL = 'trigger-elicitation-request';

/** One row of the elicitation benchmark. */
interface ElicitTarget {
  name: 'modern' | 'legacy' | 'direct';
  callTool: CallTool;
  /** The tool's name as this client sees it (prefixed on Ziggie's `/mcp`). */
  prefix: string;
  probe?: CpuProbe;
  close(): Promise<void>;
}

interface ElicitFigures {
  /** The elicited call, sequential, pooled over rounds. */
  p50Ms: number;
  p99Ms: number;
  p50MsByRound: number[];
  /** The echo tool with the same client, just before in each round (no elicitation). */
  echoP50Ms: number;
  /** p50 of the elicited call − p50 of echo: what the one round of input costs on this path. */
  roundMs: number;
  /** Ziggie's CPU (µs) per elicited call (median over rounds), for the rows through Ziggie. */
  serverCpuUsPerCall?: number;
}

function elicitCall(target: ElicitTarget): (i: number) => Promise<void> {
  return async () => {
    const result = await target.callTool(`${target.prefix}${ELICIT_TOOL}`, {});
    if (result.isError || !JSON.stringify(result.content).includes('Ada')) {
      throw new Error(`${ELICIT_TOOL} failed: ${JSON.stringify(result.content)}`);
    }
  };
}

async function openElicitTargets(ziggie: ZiggieProcess): Promise<ElicitTarget[]> {
  progress('elicitation: a 2026 client and a 2025 client on Ziggie, a 2025 client on server-everything');
  const modern = await connectModern(ziggie.mcpUrl);
  const legacy = await connect(new StreamableHTTPClientTransport(new URL(ziggie.mcpUrl)), {
    elicitation: true,
  });
  const direct = await openEverythingDirect({ elicitation: true });
  return [
    {
      name: 'modern',
      callTool: callToolOf(modern),
      prefix: 'everything__',
      probe: ziggie.probe,
      close: () => modern.close(),
    },
    {
      name: 'legacy',
      callTool: callToolOf(legacy),
      prefix: 'everything__',
      probe: ziggie.probe,
      close: () => legacy.close(),
    },
    {
      name: 'direct',
      callTool: callToolOf(direct.client),
      prefix: '',
      ...(direct.probe ? { probe: direct.probe } : {}),
      close: direct.close,
    },
  ];
}

/**
 * The elicitation rows: in `ROUNDS` rounds, each target runs `ELICIT_CALLS` echo calls and then
 * `ELICIT_CALLS` elicited calls, sequentially, back to back with the other targets.
 */
async function benchElicit(ziggie: ZiggieProcess): Promise<Record<ElicitTarget['name'], ElicitFigures>> {
  const targets = await openElicitTargets(ziggie);
  try {
    for (const target of targets) {
      progress(`elicitation: warming up ${target.name}`);
      await sequential(ELICIT_CALLS, echoCall({ callTool: target.callTool, tool: `${target.prefix}echo` }));
      await sequential(ELICIT_CALLS, elicitCall(target));
    }
    const rounds = new Map(
      targets.map((t) => [t.name, [] as Array<{ echo: number[]; elicit: number[]; cpu?: number }>]),
    );
    for (let r = 1; r <= ROUNDS; r++) {
      progress(`elicitation: round ${r} of ${ROUNDS}`);
      for (const target of targets) {
        const echo = await sequential(
          ELICIT_CALLS,
          echoCall({ callTool: target.callTool, tool: `${target.prefix}echo` }),
        );
        const before = cpuOf(target.probe?.server);
        const elicit = await sequential(ELICIT_CALLS, elicitCall(target));
        const after = cpuOf(target.probe?.server);
        rounds.get(target.name)!.push({
          echo,
          elicit,
          ...(before && after ? { cpu: ((after.total - before.total) * 1000) / ELICIT_CALLS } : {}),
        });
      }
    }
    const figures = (name: ElicitTarget['name']): ElicitFigures => {
      const measured = rounds.get(name)!;
      const pooled = (pick: (r: (typeof measured)[number]) => number[]) =>
        measured.flatMap(pick).sort((a, b) => a - b);
      const elicit = pooled((r) => r.elicit);
      const p50Ms = round(percentile(elicit, 0.5));
      const echoP50Ms = round(
        percentile(
          pooled((r) => r.echo),
          0.5,
        ),
      );
      const cpu = measured.map((r) => r.cpu).filter((v): v is number => v !== undefined);
      return {
        p50Ms,
        p99Ms: round(percentile(elicit, 0.99)),
        p50MsByRound: measured.map((r) => round(percentile(r.elicit, 0.5))),
        echoP50Ms,
        roundMs: round(p50Ms - echoP50Ms),
        ...(name !== 'direct' && cpu.length === measured.length
          ? { serverCpuUsPerCall: Math.round(median(cpu)) }
          : {}),
      };
    };
    return { modern: figures('modern'), legacy: figures('legacy'), direct: figures('direct') };
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
        // The 2026-07-28 client on the same Ziggie, against the same floor (issue 7 §6).
        report.budgetModern = budgetOf(echo.modern, echo.floor);
      }
      if (only !== 'echo') {
        const elicit = await benchElicit(ziggie);
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
