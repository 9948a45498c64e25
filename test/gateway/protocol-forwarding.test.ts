import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type TestClient } from '../helpers/mcp-client.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * The whole protocol through the aggregate endpoint, with the real server-everything behind the
 * gateway over stdio and a real 2025-era SDK client in front of it.
 */
describe('protocol forwarding through /mcp (server-everything over stdio)', () => {
  let harness: Harness;
  let c: TestClient;

  beforeAll(async () => {
    harness = await startZiggie({ mcpServers: { everything: everythingStdio() } });
    c = await connectClient(`${harness.baseUrl}/mcp`);
    await waitFor(async () => (await c.client.listTools()).tools.length > 0, 10_000, 'tools listed');
  });

  afterAll(async () => {
    await c?.close();
    await harness?.stop();
  });

  it('lists prefixed tools and calls one', async () => {
    const { tools } = await c.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('everything__echo');
    expect(names).toContain('everything__trigger-sampling-request');
    for (const name of names) expect(name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    const result = await c.client.callTool({
      name: 'everything__echo',
      arguments: { message: 'hello gateway' },
    });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: hello gateway' }]);
  });

  it('advertises what the upstream offers', () => {
    const caps = c.client.getServerCapabilities();
    expect(caps?.tools).toBeDefined();
    expect(caps?.resources?.subscribe).toBe(true);
    expect(caps?.prompts).toBeDefined();
    expect(caps?.logging).toBeDefined();
    expect(caps?.completions).toBeDefined();
  });

  it('forwards progress notifications of a long-running call', async () => {
    const progress: number[] = [];
    const result = await c.client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(result.isError).toBeFalsy();
    expect(progress).toEqual([1, 2, 3]);
  });

  /**
   * What the client was asked during a call, but `roots/list`: server-everything may ask for the
   * roots at any time (after its start, when the client has roots), and such a request during the
   * call is routed to this client too.
   */
  const askedBesidesRoots = () => c.requests.map((r) => r.method).filter((method) => method !== 'roots/list');

  it('routes a sampling request to the calling client and returns its answer upstream', async () => {
    c.requests.length = 0;
    const result = await c.client.callTool({
      name: 'everything__trigger-sampling-request',
      arguments: { prompt: 'write a haiku', maxTokens: 20 },
    });
    expect(askedBesidesRoots()).toEqual(['sampling/createMessage']);
    expect(JSON.stringify(result.content)).toContain('sampled by the test client');
  });

  it('routes an elicitation request to the calling client and returns its answer upstream', async () => {
    c.requests.length = 0;
    const result = await c.client.callTool({
      name: 'everything__trigger-elicitation-request',
      arguments: {},
    });
    expect(askedBesidesRoots()).toEqual(['elicitation/create']);
    expect(JSON.stringify(result.content)).toContain('Ada');
  });

  it('answers the upstream roots/list with the client roots', async () => {
    // The client's roots/list_changed is relayed upstream, which asks this client for its roots.
    c.requests.length = 0;
    await c.client.sendRootsListChanged();
    await waitFor(
      () => c.requests.some((r) => r.method === 'roots/list'),
      5_000,
      'roots/list reaching the client',
    );
    const result = await c.client.callTool({ name: 'everything__get-roots-list', arguments: {} });
    expect(JSON.stringify(result.content)).toContain('file:///work/project');
  });

  it('rewrites resource URIs so reads route back to their server', async () => {
    const { resources } = await c.client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    const first = resources[0]!;
    expect(first.uri).toMatch(/^ziggie:\/\/everything\/demo:\/\//);
    const read = await c.client.readResource({ uri: first.uri });
    expect(read.contents[0]?.uri).toBe(first.uri);
    const { resourceTemplates } = await c.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toContain(
      'ziggie://everything/demo://resource/dynamic/text/{resourceId}',
    );
    const dynamic = await c.client.readResource({
      uri: 'ziggie://everything/demo://resource/dynamic/text/2',
    });
    expect(dynamic.contents[0]?.uri).toBe('ziggie://everything/demo://resource/dynamic/text/2');
  });

  it('forwards prompts and completions with original names upstream', async () => {
    const { prompts } = await c.client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain('everything__args-prompt');
    const prompt = await c.client.getPrompt({
      name: 'everything__args-prompt',
      arguments: { city: 'Paris' },
    });
    expect(JSON.stringify(prompt.messages)).toContain('Paris');
    const completion = await c.client.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'department', value: 'E' },
    });
    expect(completion.completion.values.length).toBeGreaterThan(0);
  });

  it('forwards logging/setLevel and delivers upstream log messages', async () => {
    await c.client.setLoggingLevel('debug');
    await c.client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
    await waitFor(() => c.logs.length > 0, 15_000, 'a log message');
    expect(c.logs[0]?.logger ?? '').toMatch(/^everything/);
    await c.client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
  });

  it('subscribes to a resource and delivers updates with the exposed URI', async () => {
    const uri = 'ziggie://everything/demo://resource/dynamic/text/1';
    await c.client.subscribeResource({ uri });
    await c.client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
    await waitFor(() => c.updatedUris.length > 0, 15_000, 'a resource update');
    expect(c.updatedUris[0]).toBe(uri);
    await c.client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
    await c.client.unsubscribeResource({ uri });
  });

  it('cancels the upstream call when the client cancels', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const call = c.client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 20, steps: 20 } },
      undefined,
      { signal: controller.signal, onprogress: () => controller.abort('user cancelled') },
    );
    await expect(call).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
    // The session keeps serving after a cancellation.
    const again = await c.client.callTool({ name: 'everything__echo', arguments: { message: 'still here' } });
    expect(again.content).toEqual([{ type: 'text', text: 'Echo: still here' }]);
  });

  it('serves one upstream unprefixed at /servers/<name>/mcp', async () => {
    const single = await connectClient(`${harness.baseUrl}/servers/everything/mcp`);
    try {
      const { tools } = await single.client.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      const { resources } = await single.client.listResources();
      expect(resources[0]?.uri).toMatch(/^demo:\/\//);
      const result = await single.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(result.content)).toContain('5');
    } finally {
      await single.close();
    }
  });
});
