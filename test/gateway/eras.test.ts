import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOG_LEVEL_META_KEY } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEraZiggie } from '../helpers/era-fixtures.ts';
import { connectClient } from '../helpers/mcp-client.ts';
import { connectModernClient } from '../helpers/modern-client.ts';
import { type Harness, waitFor } from '../helpers/ziggie-harness.ts';

/** What both client helpers offer the matrix: calls, and the input requests the client answered. */
interface EraClient {
  callTool(
    name: string,
    args: Record<string, unknown>,
    options?: { onprogress?: (p: { progress: number }) => void; signal?: AbortSignal },
  ): Promise<{ content?: unknown; isError?: boolean }>;
  listToolNames(): Promise<string[]>;
  /** 2025: `logging/setLevel`; 2026: the level rides in each request's `_meta`. */
  setLogLevel(level: 'warning'): Promise<void>;
  logs: Array<{ level: string; logger?: string; data: unknown }>;
  requests: Array<{ method: string }>;
  close(): Promise<void>;
}

async function legacyClient(url: string): Promise<EraClient> {
  const c = await connectClient(url);
  return {
    callTool: (name, args, options) =>
      c.client.callTool({ name, arguments: args }, undefined, options) as Promise<{ content?: unknown }>,
    listToolNames: async () => (await c.client.listTools()).tools.map((t) => t.name),
    setLogLevel: async (level) => {
      await c.client.setLoggingLevel(level);
    },
    logs: c.logs,
    requests: c.requests,
    close: c.close,
  };
}

async function modernClient(url: string): Promise<EraClient> {
  const c = await connectModernClient(url);
  let logLevel: string | undefined;
  return {
    callTool: (name, args, options) =>
      c.client.callTool(
        { name, arguments: args, ...(logLevel ? { _meta: { [LOG_LEVEL_META_KEY]: logLevel } } : {}) },
        options,
      ) as Promise<{ content?: unknown }>,
    listToolNames: async () => (await c.client.listTools()).tools.map((t) => t.name),
    setLogLevel: async (level) => {
      logLevel = level;
    },
    logs: c.logs,
    requests: c.requests,
    close: c.close,
  };
}

const textOf = (result: { content?: unknown }) => JSON.stringify(result.content);

/**
 * Every client era against every upstream era, through the aggregate endpoint: the 2025-era SDK v1
 * client (sessions) and the 2026-07-28 SDK v2 client (stateless), in front of the fixture served as
 * a 2025 upstream (pinned) and as a 2026-only upstream.
 */
describe.each([
  { clientEra: '2025-11-25', connect: legacyClient },
  { clientEra: '2026-07-28', connect: modernClient },
])('$clientEra client', ({ connect }) => {
  let harness: Harness;
  const cancelLog = join(tmpdir(), `ziggie-cancel-${process.pid}-${Date.now()}.log`);

  beforeAll(async () => {
    harness = await startEraZiggie({ CANCEL_LOG: cancelLog });
  });

  afterAll(async () => {
    await harness?.stop();
    rmSync(cancelLog, { force: true });
  });

  it('detects each upstream era', () => {
    const eras = Object.fromEntries(harness.ziggie.gateway.servers().map((s) => [s.spec.name, s.status.era]));
    expect(eras).toEqual({ old: '2025', new: '2026' });
  });

  it('shows each upstream protocol in /api/mcp/health and /api/mcp/servers', async () => {
    const health = await (await fetch(`${harness.baseUrl}/api/mcp/health`)).json();
    expect(health.protocols).toEqual({ old: '2025-11-25', new: '2026-07-28' });
    const { servers } = await (await fetch(`${harness.baseUrl}/api/mcp/servers`)).json();
    const byName = Object.fromEntries(
      servers.map((s: { name: string; protocol: string; status: { protocolVersion: string } }) => [
        s.name,
        { pin: s.protocol, speaks: s.status.protocolVersion },
      ]),
    );
    expect(byName).toEqual({
      old: { pin: '2025-11-25', speaks: '2025-11-25' },
      new: { pin: 'auto', speaks: '2026-07-28' },
    });
  });

  describe.each([
    { upstream: 'old', upstreamEra: '2025-11-25' },
    { upstream: 'new', upstreamEra: '2026-07-28' },
  ])('→ $upstreamEra upstream', ({ upstream }) => {
    let client: EraClient;
    const tool = (name: string) => `${upstream}__${name}`;

    beforeAll(async () => {
      client = await connect(`${harness.baseUrl}/mcp`);
    });
    afterAll(async () => {
      await client?.close();
    });

    it('lists and calls', async () => {
      expect(await client.listToolNames()).toContain(tool('echo'));
      expect(textOf(await client.callTool(tool('echo'), { message: 'hi' }))).toContain('echo: hi');
    });

    it('relays progress', async () => {
      const progress: number[] = [];
      const result = await client.callTool(
        tool('count'),
        { n: 3, ms: 20 },
        { onprogress: (p) => progress.push(p.progress) },
      );
      expect(textOf(result)).toContain('counted to 3');
      expect(progress).toEqual([1, 2, 3]);
    });

    it('carries a cancellation to the upstream', async () => {
      const before = existsSync(cancelLog) ? readFileSync(cancelLog, 'utf8').split('\n').length : 0;
      const controller = new AbortController();
      const call = client.callTool(
        tool('count'),
        { n: 100, ms: 30 },
        { signal: controller.signal, onprogress: () => controller.abort() },
      );
      await expect(call).rejects.toThrow();
      await waitFor(
        () => existsSync(cancelLog) && readFileSync(cancelLog, 'utf8').split('\n').length > before,
        5_000,
        'the upstream seeing the cancellation',
      );
    });

    it('round-trips an elicitation', async () => {
      client.requests.length = 0;
      expect(textOf(await client.callTool(tool('confirm'), {}))).toContain('confirmed: true');
      expect(client.requests.map((r) => r.method)).toEqual(['elicitation/create']);
    });

    it('round-trips a sampling request', async () => {
      client.requests.length = 0;
      const result = await client.callTool(tool('summarize'), { text: 'a long text' });
      expect(textOf(result)).toContain('sampled by');
      expect(client.requests.map((r) => r.method)).toEqual(['sampling/createMessage']);
    });

    it('answers roots/list with the client roots', async () => {
      client.requests.length = 0;
      expect(textOf(await client.callTool(tool('roots'), {}))).toMatch(
        /roots: file:\/\/\/work\/(project|modern)/,
      );
      expect(client.requests.map((r) => r.method)).toEqual(['roots/list']);
    });

    it('relays log messages at the level the client asked for', async () => {
      await client.setLogLevel('warning');
      client.logs.length = 0;
      expect(textOf(await client.callTool(tool('chatty'), {}))).toContain('logged');
      await waitFor(() => client.logs.length > 0, 5_000, 'a log message');
      // Give any (wrongly) forwarded debug/info message time to arrive before judging.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(client.logs.map((l) => [l.level, l.logger, l.data])).toEqual([
        ['warning', `${upstream}/chatty`, 'a warning message'],
      ]);
    });

    it('completes a call that needs two rounds of input', async () => {
      client.requests.length = 0;
      expect(textOf(await client.callTool(tool('two-step'), {}))).toContain('hello Ada (true)');
      expect(client.requests.map((r) => r.method)).toEqual(['elicitation/create', 'elicitation/create']);
    });
  });
});
