/**
 * The clients of the gateway benchmark: the official SDK v1 client (2025-11-25, sessions) and the
 * v2 client pinned to 2026-07-28 (stateless), the echo call every row makes, and server-everything
 * driven directly over stdio.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const EVERYTHING_ENTRY = join(
  ROOT,
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

/** Processes whose CPU time is reported: the server, and (for Ziggie) its upstream. */
export interface CpuProbe {
  server: number[];
  upstream?: number[];
}

/** The answer every benchmark client gives server-everything's elicitation form. */
export const ELICIT_ANSWER = {
  action: 'accept',
  content: { name: 'Ada', check: true, email: 'ada@example.com' },
} as const;

/** A 2025-era client (SDK v1); with `elicitation`, it answers elicitation requests at once. */
export async function connect(
  transport: Transport,
  options: { elicitation?: boolean } = {},
): Promise<Client> {
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
export async function connectModern(url: string): Promise<ModernClient> {
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
export type CallTool = (
  name: string,
  args: Record<string, unknown>,
) => Promise<{ isError?: unknown; content?: unknown }>;

export const callToolOf = (client: Client | ModernClient): CallTool =>
  client instanceof ModernClient
    ? (name, args) => client.callTool({ name, arguments: args })
    : // v1 also types the legacy `{ toolResult }` shape, which no server here answers.
      (name, args) => client.callTool({ name, arguments: args }) as ReturnType<CallTool>;

export function echoCall(target: { callTool: CallTool; tool: string }): (i: number) => Promise<void> {
  return async (i) => {
    const result = await target.callTool(target.tool, { message: `hello ${i}` });
    if (result.isError) throw new Error(`${target.tool} failed: ${JSON.stringify(result.content)}`);
  };
}

/** server-everything over stdio with its own SDK v1 client. */
export async function openEverythingDirect(options: { elicitation?: boolean } = {}) {
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
