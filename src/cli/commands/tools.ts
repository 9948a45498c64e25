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

interface ContentBlock {
  type?: string;
  text?: string;
  mimeType?: string;
  data?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; mimeType?: string; text?: string };
}

interface ExecuteResponse {
  success: boolean;
  result: { content?: ContentBlock[]; structuredContent?: unknown; isError?: boolean };
}

/** `ziggie tools list|approve` and `ziggie call`. */
export function registerTools(program: Command): void {
  const tools = program
    .command('tools')
    .description('list the tools the gateway exposes; approve changed ones');

  remoteOptions(
    tools
      .command('list')
      .description('list tools, named as on /mcp (<server>__<tool>)')
      .option('--server <name>', 'only the tools of this server'),
  ).action(async (flags: RemoteFlags & { server?: string }) => {
    const client = clientFor(flags);
    const all = await client.get<{ tools: ToolRow[] }>('/api/mcp/tools');
    const rows = flags.server ? all.tools.filter((t) => t.server === flags.server) : all.tools;
    if (flags.server && rows.length === 0) {
      // Fails with UPSTREAM_NOT_FOUND when there is no such server; otherwise it has no tools.
      await client.get(`/api/mcp/tools?server=${encodeURIComponent(flags.server)}`);
    }
    if (flags.json) return printJson(rows);
    printTable(
      rows.map((t) => ({
        name: t.name,
        server: t.server,
        changed: t.changed ? 'CHANGED' : '',
        description: truncate(t.description, 70),
      })),
      ['name', 'server', 'changed', 'description'],
      flags.server
        ? `no tools on ${flags.server} (is it healthy? see \`ziggie servers list\`)`
        : 'no tools (are the upstreams healthy? see `ziggie servers health`)',
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
    const response = await clientFor(flags).post<ExecuteResponse>(
      '/api/mcp/execute',
      { tool, arguments: args },
      { timeout: false },
    );
    const content = response.result.content ?? [];
    if (flags.json) printJson(response);
    else if (response.success) printContent(content, response.result.structuredContent);
    if (!response.success) {
      const reason = content
        .map((block) => (block.type === 'text' ? (block.text ?? '') : describeBlock(block)))
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim();
      throw new ZiggieError('UPSTREAM_ERROR', `${tool} reported an error: ${reason || '(no message)'}`);
    }
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
    throw new ZiggieError(
      'CLI_USAGE',
      `--args: expected a JSON object such as '{"message":"hi"}' (got ${JSON.stringify(value)})`,
    );
  }
  return value as Record<string, unknown>;
}

/** Text blocks as they are; other blocks as one descriptive line (never a screenful of base64). */
function printContent(content: readonly ContentBlock[], structured: unknown): void {
  if (content.length === 0 && structured !== undefined) {
    process.stdout.write(`${JSON.stringify(structured, null, 2)}\n`);
    return;
  }
  for (const block of content) {
    process.stdout.write(`${block.type === 'text' ? (block.text ?? '') : describeBlock(block)}\n`);
  }
}

function describeBlock(block: ContentBlock): string {
  switch (block.type) {
    case 'image':
    case 'audio': {
      const bytes = Math.floor(((block.data?.length ?? 0) * 3) / 4);
      return `[${block.type} ${block.mimeType ?? ''}, ${bytes} bytes]`;
    }
    case 'resource_link':
      return `[resource link ${block.uri}${block.name ? ` "${block.name}"` : ''}]`;
    case 'resource':
      return (
        block.resource?.text ?? `[resource ${block.resource?.uri} ${block.resource?.mimeType ?? ''}]`.trim()
      );
    default:
      return JSON.stringify(block);
  }
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
