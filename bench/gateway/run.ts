/**
 * The gateway benchmark (`npm run bench:gateway`), against the budgets in DESIGN.md:
 *
 * - `tools/call` of an echo tool, with the official SDK client (v1, as most clients in use are),
 *   sequential (p50/p99) and at a fixed concurrency (calls/s), against
 *   (a) the floor — a bare node:http JSON-RPC endpoint (floor-server.ts),
 *   (b) Ziggie in front of server-everything over stdio (`everything__echo` on `/mcp`),
 *   (c) server-everything directly over stdio;
 *   budget: (b) adds ≤ 0.15 ms p50 over (a) and reaches ≥ 80% of (a)'s calls/s.
 *   The three are measured in rounds, back to back within each round, so that all three see the
 *   same load from whatever else runs on the machine; figures are pooled or medians over rounds.
 * - aggregated `tools/list` on Ziggie's `/mcp` over 10 stdio servers with 1,000 tools in total,
 *   warm; budget: p50 < 5 ms.
 *
 * The HTTP servers (floor, Ziggie) run in their own processes, so none shares a thread with the
 * client. Progress goes to stderr, one JSON document to stdout. Every child is stopped at the end.
 *
 * Options: --calls N (2000 per round), --rounds N (5), --concurrency N (16), --list-calls N (500),
 * --only echo|list,
 * --prof-dir DIR (run the Ziggie processes with --cpu-prof, profiles written to DIR).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { stringify } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const EVERYTHING_ENTRY = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

const ADDED_P50_BUDGET_MS = 0.15;
const THROUGHPUT_BUDGET = 0.8;
const TOOLS_LIST_BUDGET_MS = 5;
const LIST_SERVERS = 10;
const LIST_TOOLS_PER_SERVER = 100;

const { values: opts } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    'list-calls': { type: 'string', default: '500' },
    only: { type: 'string' },
    'prof-dir': { type: 'string' },
  },
});
const CALLS = Number(opts.calls);
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = Number(opts.concurrency);
const LIST_CALLS = Number(opts['list-calls']);
const PROF_DIR = opts['prof-dir'] ? resolve(opts['prof-dir']) : undefined;

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and stopped, whatever happens.

const children = new Set<ChildProcess>();

/** Spawns a Node script that prints `LISTENING <url>` once ready; resolves with the URL. */
async function startServer(
  script: string,
  args: string[],
  options: { profile?: boolean } = {},
): Promise<{ url: string; child: ChildProcess }> {
  const nodeArgs = options.profile && PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, join(HERE, script), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before listening`));
    child.once('exit', onExit);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('LISTENING ')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolveUrl(line.slice('LISTENING '.length).trim());
    });
  });
  return { url, child };
}

/** Closes the child's stdin (its signal to stop) and waits for it; SIGKILL after 10 s. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
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

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

interface CpuTime {
  /** User + system (ms). */
  total: number;
  system: number;
}

/** CPU time a process has used, from /proc (Linux); undefined elsewhere. */
function cpuTimeOf(pid: number): CpuTime | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    const user = (Number(fields[11]) * 1000) / 100;
    const system = (Number(fields[12]) * 1000) / 100;
    return { total: user + system, system };
  } catch {
    return undefined;
  }
}

/** The pids of a process's children (Linux). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Sums the CPU time of `pids`; undefined when it cannot be read (or there are none). */
function cpuOf(pids: number[] | undefined): CpuTime | undefined {
  if (!pids?.length) return undefined;
  const sum: CpuTime = { total: 0, system: 0 };
  for (const pid of pids) {
    const time = cpuTimeOf(pid);
    if (time === undefined) return undefined;
    sum.total += time.total;
    sum.system += time.system;
  }
  return sum;
}

async function connect(transport: Transport): Promise<Client> {
  const client = new Client({ name: 'ziggie-bench', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** `fn` run `count` times one after the other; each latency in ms, sorted. */
async function sequential(count: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await fn(i);
    latencies[i] = performance.now() - started;
  }
  return latencies.sort((a, b) => a - b);
}

/** `fn` run `count` times by `concurrency` workers; calls per second. */
async function concurrent(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/** One row of the echo benchmark: a connected client and the processes whose CPU time is counted. */
interface EchoTarget {
  name: 'floor' | 'ziggie' | 'direct';
  client: Client;
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

function echoCall(target: EchoTarget): (i: number) => Promise<void> {
  return async (i) => {
    const result = await target.client.callTool({ name: target.tool, arguments: { message: `hello ${i}` } });
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
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
    client,
    tool: 'echo',
    probe: { server: [child.pid!] },
    close: async () => {
      await client.close();
      await stopServer(child);
    },
  };
}

async function openZiggie(dir: string): Promise<EchoTarget> {
  progress('echo (b) ziggie: starting Ziggie with server-everything over stdio');
  const config = join(dir, 'echo.yaml');
  writeZiggieConfig(config, join(dir, 'echo-data'), {
    everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio'] },
  });
  const { url, child } = await startServer('ziggie-server.ts', [config, '1'], { profile: true });
  const client = await connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  return {
    name: 'ziggie',
    client,
    tool: 'everything__echo',
    probe: { server: [child.pid!], upstream: childPids(child.pid) },
    close: async () => {
      await client.close();
      await stopServer(child);
    },
  };
}

async function openDirect(): Promise<EchoTarget> {
  progress('echo (c) direct: starting server-everything over stdio');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [EVERYTHING_ENTRY, 'stdio'],
    stderr: 'ignore',
  });
  const client = await connect(transport);
  return {
    name: 'direct',
    client,
    tool: 'echo',
    ...(transport.pid === null ? {} : { probe: { server: [transport.pid] } }),
    close: () => client.close(),
  };
}

/** The echo rows, measured in `ROUNDS` rounds of floor, Ziggie and direct back to back. */
async function benchEcho(dir: string): Promise<Record<EchoTarget['name'], EchoFigures>> {
  const targets: EchoTarget[] = [];
  try {
    targets.push(await openFloor(), await openZiggie(dir), await openDirect());
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
      direct: summarise(rounds.get('direct')!),
    };
  } finally {
    for (const target of targets) await target.close();
  }
}

interface ToolsListFigures {
  servers: number;
  tools: number;
  calls: number;
  responseBytes: number;
  p50Ms: number;
  p99Ms: number;
  /** The same request as plain HTTP (fetch, body read as text): the gateway without the client's parsing. */
  rawHttp: { p50Ms: number; p99Ms: number };
  budgetMs: number;
  /** Judged on the SDK client's p50 (what a client sees). */
  pass: boolean;
  /** Judged on the plain-HTTP p50 (what the gateway itself takes). */
  passRawHttp: boolean;
}

async function benchToolsList(dir: string): Promise<ToolsListFigures> {
  const total = LIST_SERVERS * LIST_TOOLS_PER_SERVER;
  progress(`tools/list: starting Ziggie with ${LIST_SERVERS} stdio servers, ${total} tools`);
  const servers: Record<string, unknown> = {};
  for (let i = 0; i < LIST_SERVERS; i++) {
    servers[`s${i}`] = {
      command: process.execPath,
      args: [join(HERE, 'many-tools-server.ts')],
      env: { BENCH_TOOLS: String(LIST_TOOLS_PER_SERVER) },
    };
  }
  const config = join(dir, 'list.yaml');
  writeZiggieConfig(config, join(dir, 'list-data'), servers);
  const { url, child } = await startServer('ziggie-server.ts', [config, String(total)], { profile: true });
  try {
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`));
    const client = await connect(transport);
    const first = await client.listTools();
    if (first.tools.length !== total) throw new Error(`listed ${first.tools.length} tools, not ${total}`);
    progress(`tools/list: measuring on ${url}/mcp`);
    const list = async () => {
      const { tools } = await client.listTools();
      if (tools.length !== total) throw new Error(`listed ${tools.length} tools`);
    };
    await sequential(100, list);
    const latencies = await sequential(LIST_CALLS, list);

    // Plain HTTP on the same session: what the gateway costs without the SDK client's parsing.
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': transport.sessionId!,
      'mcp-protocol-version': transport.protocolVersion ?? '2025-11-25',
    };
    let responseBytes = 0;
    const raw = async (i: number) => {
      const response = await fetch(`${url}/mcp`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: `raw-${i}`, method: 'tools/list', params: {} }),
      });
      const text = await response.text();
      if (!response.ok || !text.includes('tool_099'))
        throw new Error(`raw tools/list failed: ${response.status}`);
      responseBytes = Buffer.byteLength(text);
    };
    await sequential(100, raw);
    const rawLatencies = await sequential(LIST_CALLS, raw);
    await client.close();
    const p50Ms = round(percentile(latencies, 0.5));
    const rawP50Ms = round(percentile(rawLatencies, 0.5));
    return {
      servers: LIST_SERVERS,
      tools: total,
      calls: LIST_CALLS,
      responseBytes,
      p50Ms,
      p99Ms: round(percentile(latencies, 0.99)),
      rawHttp: {
        p50Ms: rawP50Ms,
        p99Ms: round(percentile(rawLatencies, 0.99)),
      },
      budgetMs: TOOLS_LIST_BUDGET_MS,
      pass: p50Ms < TOOLS_LIST_BUDGET_MS,
      passRawHttp: rawP50Ms < TOOLS_LIST_BUDGET_MS,
    };
  } finally {
    await stopServer(child);
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
  settings: { calls: CALLS, rounds: ROUNDS, concurrency: CONCURRENCY, listCalls: LIST_CALLS },
};

try {
  if (opts.only !== 'list') {
    const echo = await benchEcho(dir);
    const { floor, ziggie } = echo;
    report.echo = echo;
    const addedP50Ms = round(ziggie.p50Ms - floor.p50Ms);
    // Per round (floor and Ziggie measured back to back), then the median.
    const ratios = ziggie.callsPerSecByRound.map((perSec, i) => perSec / floor.callsPerSecByRound[i]!);
    const throughputRatio = round(median(ratios));
    report.budget = {
      addedP50Ms,
      addedP50BudgetMs: ADDED_P50_BUDGET_MS,
      throughputRatio,
      throughputRatioByRound: ratios.map((r) => round(r)),
      throughputBudget: THROUGHPUT_BUDGET,
      pass: addedP50Ms <= ADDED_P50_BUDGET_MS && throughputRatio >= THROUGHPUT_BUDGET,
    };
  }
  if (opts.only !== 'echo') report.toolsList = await benchToolsList(dir);
  // Other work on the machine skews the figures: the load at the end tells whether there was any.
  (report.machine as Record<string, unknown>).loadAvg1mAtEnd = round(loadavg()[0] ?? 0, 2);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
