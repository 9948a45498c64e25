/**
 * The elicitation rows of the gateway benchmark: one round of input (server-everything's
 * `trigger-elicitation-request` asks its client once) made by a 2026 client through Ziggie
 * (bridged: `input_required`, a held upstream call, the client's retry), by a 2025 client through
 * Ziggie (over its session) and by a 2025 client directly; each against its own echo calls in the
 * same round, for the time one round of input adds on each path.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallTool,
  type CpuProbe,
  callToolOf,
  connect,
  connectModern,
  echoCall,
  openEverythingDirect,
} from './clients.ts';
import { cpuOf, median, percentile, round, sequential } from './measure.ts';

/** The Ziggie the rows go through (the echo rows' Ziggie). */
export interface ElicitZiggie {
  mcpUrl: string;
  probe: CpuProbe;
}

export interface ElicitOptions {
  rounds: number;
  /** Echo calls, then as many elicited calls, per round and row. */
  calls: number;
  progress(message: string): void;
}

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

export interface ElicitFigures {
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

async function openElicitTargets(
  ziggie: ElicitZiggie,
  progress: (message: string) => void,
): Promise<ElicitTarget[]> {
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
 * The elicitation rows: in `rounds` rounds, each target runs `calls` echo calls and then
 * `calls` elicited calls, sequentially, back to back with the other targets.
 */
export async function benchElicit(
  ziggie: ElicitZiggie,
  { rounds: ROUNDS, calls: ELICIT_CALLS, progress }: ElicitOptions,
): Promise<Record<ElicitTarget['name'], ElicitFigures>> {
  const targets = await openElicitTargets(ziggie, progress);
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
