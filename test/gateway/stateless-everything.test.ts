import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectModernClient, type ModernTestClient } from '../helpers/modern-client.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * A 2026-07-28 client through the gateway to the real server-everything, a 2025-era server over
 * stdio: what the upstream asks of its client mid-call arrives at this stateless client as
 * `input_required`, and everything else (resources, prompts, completions) works as for 2025 clients.
 */
describe('2026-07-28 client → server-everything (2025 upstream)', () => {
  let harness: Harness;
  let c: ModernTestClient;

  beforeAll(async () => {
    harness = await startZiggie({ mcpServers: { everything: everythingStdio() } });
    const h = harness;
    await waitFor(
      () => h.ziggie.gateway.aggregateView().resolveTool('everything__echo') !== undefined,
      10_000,
      'tools listed',
    );
    c = await connectModernClient(`${harness.baseUrl}/mcp`);
  });

  afterAll(async () => {
    await c?.close();
    await harness?.stop();
  });

  /**
   * What the client was asked during a call, but `roots/list`: server-everything may ask for the
   * roots at any time (it does after its start, when the client has roots), and such a request
   * during the call reaches this client too.
   */
  const asked = () => c.requests.map((r) => r.method).filter((method) => method !== 'roots/list');

  it('speaks 2026-07-28 and sees the prefixed tools', async () => {
    expect(c.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name)).toContain('everything__trigger-elicitation-request');
  });

  it('answers an upstream elicitation through input_required', async () => {
    c.requests.length = 0;
    const result = await c.client.callTool({
      name: 'everything__trigger-elicitation-request',
      arguments: {},
    });
    expect(asked()).toEqual(['elicitation/create']);
    expect(JSON.stringify(result.content)).toContain('Ada');
  });

  it('answers an upstream sampling request through input_required', async () => {
    c.requests.length = 0;
    const result = await c.client.callTool({
      name: 'everything__trigger-sampling-request',
      arguments: { prompt: 'write a haiku', maxTokens: 20 },
    });
    expect(asked()).toEqual(['sampling/createMessage']);
    expect(JSON.stringify(result.content)).toContain('sampled by the modern client');
  });

  it('reads a resource by its gateway URI', async () => {
    const { resources } = await c.client.listResources();
    const first = resources[0];
    expect(first?.uri).toMatch(/^ziggie:\/\/everything\//);
    const read = await c.client.readResource({ uri: first?.uri ?? '' });
    expect(read.contents[0]?.uri).toBe(first?.uri);
  });

  it('gets a prompt', async () => {
    const { prompts } = await c.client.listPrompts();
    const simple = prompts.find((p) => p.name === 'everything__simple-prompt');
    expect(simple).toBeDefined();
    const prompt = await c.client.getPrompt({ name: 'everything__simple-prompt' });
    expect(prompt.messages.length).toBeGreaterThan(0);
  });

  it('serves one upstream unprefixed at /servers/<name>/mcp', async () => {
    const single = await connectModernClient(`${harness.baseUrl}/servers/everything/mcp`);
    try {
      const { tools } = await single.client.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      const result = await single.client.callTool({ name: 'echo', arguments: { message: 'one' } });
      expect(result.content).toEqual([{ type: 'text', text: 'Echo: one' }]);
    } finally {
      await single.close();
    }
  });
});
