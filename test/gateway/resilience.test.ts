import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type TestClient } from '../helpers/mcp-client.ts';
import { everythingStdio, type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

function everythingPids(): number[] {
  try {
    const out = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'server-everything'], {
      encoding: 'utf8',
    });
    return out.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function health(harness: Harness): Promise<{ servers: Record<string, string>; overall: string }> {
  return (await fetch(`${harness.baseUrl}/api/mcp/health`)).json() as Promise<{
    servers: Record<string, string>;
    overall: string;
  }>;
}

/** An upstream that dies mid-run: health shows it, calls fail fast, it restarts and serves again. */
describe('upstream crash and restart', () => {
  let harness: Harness;
  let c: TestClient;

  beforeAll(async () => {
    harness = await startZiggie({
      gateway: { restart: { initialDelayMs: 1500, maxDelayMs: 4000 } },
      mcpServers: { a: everythingStdio(), b: everythingStdio() },
    });
    c = await connectClient(`${harness.baseUrl}/mcp`);
    await waitFor(async () => (await c.client.listTools()).tools.length > 0, 10_000, 'tools listed');
  });

  afterAll(async () => {
    await c?.close();
    await harness?.stop();
  });

  it('reaches two servers with the same tool names under their own prefixes', async () => {
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('a__echo');
    expect(names).toContain('b__echo');
    const a = await c.client.callTool({ name: 'a__echo', arguments: { message: 'from a' } });
    const b = await c.client.callTool({ name: 'b__echo', arguments: { message: 'from b' } });
    expect(a.content).toEqual([{ type: 'text', text: 'Echo: from a' }]);
    expect(b.content).toEqual([{ type: 'text', text: 'Echo: from b' }]);
  });

  it('fails fast while a killed upstream is down, keeps the other serving, then recovers', async () => {
    expect((await health(harness)).overall).toBe('healthy');
    const before = everythingPids();
    expect(before).toHaveLength(2);
    const stateOf = (name: string) =>
      harness.ziggie.gateway.servers().find((s) => s.spec.name === name)!.status;
    // Kill one of the two children; which server it belonged to shows in the states right after.
    process.kill(before[0]!, 'SIGKILL');
    await waitFor(
      () => harness.ziggie.gateway.servers().some((s) => s.status.state !== 'healthy'),
      3_000,
      'the crash to be noticed',
    );
    const down = harness.ziggie.gateway.servers().find((s) => s.status.state !== 'healthy')!.spec.name;
    const up = down === 'a' ? 'b' : 'a';
    const report = await health(harness);
    expect(report.overall).toBe('degraded');
    expect(report.servers[down]).toMatch(/^unhealthy/);
    expect(report.servers[up]).toBe('healthy');

    const started = Date.now();
    await expect(
      c.client.callTool({ name: `${down}__echo`, arguments: { message: 'x' } }),
    ).rejects.toMatchObject({
      message: expect.stringContaining(`"${down}"`),
    });
    expect(Date.now() - started).toBeLessThan(500);
    const other = await c.client.callTool({ name: `${up}__echo`, arguments: { message: 'alive' } });
    expect(other.content).toEqual([{ type: 'text', text: 'Echo: alive' }]);

    await waitFor(() => stateOf(down).state === 'healthy', 15_000, 'restart');
    expect(stateOf(down).restarts).toBe(1);
    const again = await c.client.callTool({ name: `${down}__echo`, arguments: { message: 'back' } });
    expect(again.content).toEqual([{ type: 'text', text: 'Echo: back' }]);
    expect((await health(harness)).overall).toBe('healthy');
    const metrics = await (await fetch(`${harness.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ziggie_upstream_state\\{server_name="${down}"\\} 2`));
    expect(metrics).toMatch(/mcp_requests_total\{server_name="\w",tool_name="echo",status="ok"\} \d+/);
    expect(metrics).toMatch(/mcp_requests_total\{server_name="\w",tool_name="echo",status="failed"\} 1/);
  });

  it('leaves no upstream process behind when stopped', async () => {
    const pids = everythingPids();
    expect(pids.length).toBe(2);
    await harness.ziggie.gateway.stop();
    await waitFor(() => everythingPids().length === 0, 5_000, 'children to exit');
  });
});
