import { join } from 'node:path';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * A `prompts/get` that needs client input on the way (SEP-2322: `input_required` is not only for
 * tools), for every client era × upstream era: the upstream's question reaches the client that asked
 * for the prompt (over its 2025 session, or as `input_required` to a 2026 client, the upstream request
 * held until the retry), and the answer reaches the upstream.
 */

const FIXTURE = join(process.cwd(), 'test/fixtures/conformance-server.ts');
const PROMPT = 'test_input_required_result_prompt';
const ANSWER = { action: 'accept', content: { context: 'the gateway test' } } as const;

interface PromptClient {
  getPromptText(name: string): Promise<string>;
  questions: string[];
  close(): Promise<void>;
}

async function legacyClient(url: string): Promise<PromptClient> {
  const client = new Client({ name: 'non-tool-2025', version: '1' }, { capabilities: { elicitation: {} } });
  const questions: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    questions.push(String(request.params.message));
    return ANSWER;
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    getPromptText: async (name) => JSON.stringify((await client.getPrompt({ name })).messages),
    questions,
    close: () => client.close(),
  };
}

async function modernClient(url: string): Promise<PromptClient> {
  const client = new ModernClient(
    { name: 'non-tool-2026', version: '1' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const questions: string[] = [];
  client.setRequestHandler('elicitation/create', async (request) => {
    questions.push(String((request.params as { message?: unknown }).message));
    return ANSWER;
  });
  await client.connect(new ModernTransport(new URL(url)));
  return {
    getPromptText: async (name) => JSON.stringify((await client.getPrompt({ name })).messages),
    questions,
    close: () => client.close(),
  };
}

describe('prompts/get that needs client input, every era pairing', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startZiggie({
      mcpServers: {
        new: { command: process.execPath, args: [FIXTURE] },
        old: { command: process.execPath, args: [FIXTURE], protocol: '2025-11-25' },
      },
    });
    const view = harness.ziggie.gateway.aggregateView();
    await waitFor(
      () => ['new', 'old'].every((s) => view.prompts().some((p) => p.name === `${s}__${PROMPT}`)),
      15_000,
      'both upstreams listed',
    );
  });

  afterAll(async () => {
    await harness?.stop();
  });

  describe.each([
    { clientEra: '2025-11-25', connect: legacyClient },
    { clientEra: '2026-07-28', connect: modernClient },
  ])('$clientEra client', ({ connect }) => {
    it.each(['new', 'old'])(
      '→ %s upstream: the question reaches the client, the answer the upstream',
      async (upstream) => {
        const client = await connect(`${harness.baseUrl}/mcp`);
        try {
          const text = await client.getPromptText(`${upstream}__${PROMPT}`);
          expect(text).toContain('Use this context: the gateway test');
          expect(client.questions).toEqual(['What context should the prompt use?']);
        } finally {
          await client.close();
        }
      },
    );
  });
});
