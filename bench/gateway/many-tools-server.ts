/**
 * A stdio MCP server with many tools, for the aggregated `tools/list` benchmark:
 * `BENCH_TOOLS` tools (default 100) named `tool_000`…, each with a description and a small input
 * schema, answering with their arguments echoed.
 * Run: BENCH_TOOLS=100 node bench/gateway/many-tools-server.ts
 */
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

const count = Number(process.env.BENCH_TOOLS ?? 100);
const server = new McpServer({ name: 'many-tools', version: '1.0.0' });

for (let i = 0; i < count; i++) {
  const name = `tool_${String(i).padStart(3, '0')}`;
  server.registerTool(
    name,
    {
      title: `Tool ${i}`,
      description: `Benchmark tool number ${i}: looks up a record by id and returns it, optionally with its history.`,
      inputSchema: z.object({
        id: z.string().describe('Record id'),
        limit: z.number().int().min(1).max(100).optional().describe('Maximum number of entries'),
        history: z.boolean().optional().describe('Include the history'),
      }),
      annotations: { readOnlyHint: true },
    },
    async (args) => ({ content: [{ type: 'text', text: `${name}: ${JSON.stringify(args)}` }] }),
  );
}

await server.connect(new StdioServerTransport());
