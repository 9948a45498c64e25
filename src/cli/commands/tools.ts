import type { Command } from 'commander';
import { ZiggieError } from '../../core/errors.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

interface ToolRow {
  name: string;
  server: string;
  upstreamName: string;
  description: string;
  changed: boolean;
}

/** `ziggie tools list|approve` and `ziggie call`. */
export function registerTools(program: Command): void {
  const tools = program
    .command('tools')
    .description('list the tools the gateway exposes; approve changed ones');

  remoteOptions(
    tools
      .command('list')
      .description('list tools (names as on /mcp)')
      .option('--server <name>', 'only this server'),
  ).action(async (flags: RemoteFlags & { server?: string }) => {
    const query = flags.server ? `?server=${encodeURIComponent(flags.server)}` : '';
    const result = await clientFor(flags).get<{ tools: ToolRow[]; server_count: number }>(
      `/api/mcp/tools${query}`,
    );
    if (flags.json) return printJson(result);
    printTable(
      result.tools.map((t) => ({
        name: t.name,
        server: t.server,
        changed: t.changed ? 'CHANGED' : '',
        description: truncate(t.description, 70),
      })),
      ['name', 'server', 'changed', 'description'],
      'no tools (are the upstreams healthy? see `ziggie servers health`)',
    );
  });

  remoteOptions(
    tools
      .command('approve <tool>')
      .description('accept the current definition of a changed tool (shown again under strict pinning)')
      .option('--server <name>', 'the server, when <tool> is the upstream tool name'),
  ).action(async (tool: string, flags: RemoteFlags & { server?: string }) => {
    const result = await clientFor(flags).post<{ approved: { server: string; tool: string } }>(
      '/api/mcp/tools/approve',
      {
        tool,
        ...(flags.server ? { server: flags.server } : {}),
      },
    );
    if (flags.json) return printJson(result);
    process.stdout.write(`approved ${result.approved.server}/${result.approved.tool}\n`);
  });

  remoteOptions(
    program
      .command('call <tool>')
      .description('call a tool through the gateway (name as on /mcp, e.g. everything__echo)')
      .option('--args <json>', 'the arguments as a JSON object', '{}'),
  ).action(async (tool: string, flags: RemoteFlags & { args: string }) => {
    const args = parseArgs(flags.args);
    const response = await clientFor(flags).post<{ success: boolean; result: { content?: unknown[] } }>(
      '/api/mcp/execute',
      { tool, arguments: args },
    );
    if (flags.json) printJson(response);
    else printContent(response.result.content ?? []);
    if (!response.success) process.exitCode = 1;
  });
}

function parseArgs(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ZiggieError('CLI_USAGE', `--args: not valid JSON (${(error as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ZiggieError('CLI_USAGE', '--args: expected a JSON object, e.g. \'{"message":"hi"}\'');
  }
  return value as Record<string, unknown>;
}

function printContent(content: unknown[]): void {
  for (const block of content as Array<{ type?: string; text?: string }>) {
    if (block.type === 'text') process.stdout.write(`${block.text ?? ''}\n`);
    else process.stdout.write(`${JSON.stringify(block)}\n`);
  }
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
