import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { percentile, round, sequential } from './measure.ts';
import { startServer, stopServer } from './processes.ts';

/**
 * The aggregated `tools/list` row of the gateway benchmark: 10 stdio upstreams with 100 tools each
 * behind one Ziggie, listed warm through the SDK client and as plain HTTP. Budget: < 5 ms.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const TOOLS_LIST_BUDGET_MS = 5;
const LIST_SERVERS = 10;
const LIST_TOOLS_PER_SERVER = 100;

export interface ToolsListFigures {
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

export async function benchToolsList(options: {
  dir: string;
  calls: number;
  profileDir?: string;
  connect: (transport: Transport) => Promise<Client>;
  writeConfig: (path: string, dataDir: string, servers: Record<string, unknown>) => void;
  progress: (message: string) => void;
}): Promise<ToolsListFigures> {
  const { dir, connect, progress } = options;
  const LIST_CALLS = options.calls;
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
  options.writeConfig(config, join(dir, 'list-data'), servers);
  const { url, child } = await startServer('ziggie-server.ts', [config, String(total)], {
    ...(options.profileDir ? { profileDir: options.profileDir } : {}),
  });
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
