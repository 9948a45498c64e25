import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startZiggie, waitFor } from '../helpers/ziggie-harness.ts';

/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, server mode) against
 * Ziggie's per-server endpoint, with test/fixtures/conformance-server.ts behind it over stdio: every
 * scenario goes client → Ziggie (Streamable HTTP) → fixture (stdio) and back.
 */

/** The suite's active server scenarios (its default run). */
const ACTIVE = [
  'server-initialize',
  'logging-set-level',
  'ping',
  'completion-complete',
  'tools-list',
  'tools-call-simple-text',
  'tools-call-image',
  'tools-call-audio',
  'tools-call-embedded-resource',
  'tools-call-mixed-content',
  'tools-call-with-logging',
  'tools-call-error',
  'tools-call-with-progress',
  'tools-call-sampling',
  'tools-call-elicitation',
  'elicitation-sep1034-defaults',
  'server-sse-multiple-streams',
  'elicitation-sep1330-enums',
  'resources-list',
  'resources-read-text',
  'resources-read-binary',
  'resources-templates-read',
  'resources-subscribe',
  'resources-unsubscribe',
  'prompts-list',
  'prompts-get-simple',
  'prompts-get-with-args',
  'prompts-get-embedded-resource',
  'prompts-get-with-image',
  'dns-rebinding-protection',
];

/**
 * The suite's pending scenarios (`--suite all` adds them). `server-sse-polling` only yields
 * INFO/WARNING checks through Ziggie (no SSE resumability yet, see docs/conformance.md), so it is
 * held to "no failure" and not to "at least one success".
 */
const PENDING = ['json-schema-2020-12', 'server-sse-polling'];
const WARNINGS_ONLY = new Set(['server-sse-polling']);

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/conformance-server.ts');
const RUN_TIMEOUT_MS = 50_000;

interface Check {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  description: string;
  errorMessage?: string;
}

interface SuiteRun {
  exitCode: number | null;
  output: string;
  /** Scenario name → its checks, from the `checks.json` the suite writes per scenario. */
  scenarios: Map<string, Check[]>;
}

/** The suite's CLI entry (`bin.conformance` of its package.json), run with the Node running the tests. */
function conformanceBin(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('@modelcontextprotocol/conformance/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: { conformance: string } };
  return join(dirname(manifestPath), manifest.bin.conformance);
}

/** Runs every server scenario against `url`; results are read from the per-scenario `checks.json`. */
async function runSuite(url: string, outDir: string): Promise<SuiteRun> {
  const args = [conformanceBin(), 'server', '--url', url, '--suite', 'all', '--output-dir', outDir];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  }).finally(() => clearTimeout(killer));

  // Each scenario writes <outDir>/server-<scenario>-<ISO timestamp with ':' and '.' as '-'>/checks.json.
  const scenarios = new Map<string, Check[]>();
  for (const entry of readdirSync(outDir, { withFileTypes: true })) {
    const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry.name);
    if (!entry.isDirectory() || !match?.[1]) continue;
    const checks = JSON.parse(readFileSync(join(outDir, entry.name, 'checks.json'), 'utf8')) as Check[];
    scenarios.set(match[1], checks);
  }
  return { exitCode, output, scenarios };
}

function describeChecks(checks: readonly Check[]): string {
  return checks
    .filter((c) => c.status !== 'INFO')
    .map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description}`)
    .join('\n');
}

describe('MCP conformance suite through /servers/<name>/mcp', () => {
  let harness: Harness;
  let outDir: string;
  let run: SuiteRun;

  beforeAll(async () => {
    harness = await startZiggie({
      // The fixture serves both eras; pinned to 2025-11-25 so this run stays 2025 client → 2025 upstream
      // (on a 2026 upstream, resources/subscribe is not bridged: see README, "Both MCP eras, bridged").
      mcpServers: { conformance: { command: process.execPath, args: [FIXTURE], protocol: '2025-11-25' } },
    });
    // The catalog lists an upstream just after it turns healthy: wait for that, or the first
    // scenarios could race the listing on a loaded machine.
    const gateway = harness.ziggie.gateway;
    await waitFor(
      () => {
        const listing = gateway.catalog.listing('conformance');
        return Boolean(listing?.tools.length && listing.prompts.length && listing.resources.length);
      },
      15_000,
      'the fixture listed by the gateway',
    );
    outDir = mkdtempSync(join(tmpdir(), 'ziggie-conformance-'));
    run = await runSuite(`${harness.baseUrl}/servers/conformance/mcp`, outDir);
  }, 60_000);

  afterAll(async () => {
    await harness?.stop();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('ran exactly the known scenarios and exited 0', () => {
    expect([...run.scenarios.keys()].sort(), run.output.slice(-4000)).toEqual([...ACTIVE, ...PENDING].sort());
    expect(run.exitCode, run.output.slice(-4000)).toBe(0);
  });

  it.each([...ACTIVE, ...PENDING])('%s', (scenario) => {
    const checks = run.scenarios.get(scenario);
    expect(checks, `no results for ${scenario}:\n${run.output.slice(-4000)}`).toBeDefined();
    const failures = (checks ?? []).filter((c) => c.status === 'FAILURE');
    expect(failures, describeChecks(checks ?? [])).toEqual([]);
    if (!WARNINGS_ONLY.has(scenario)) {
      const successes = (checks ?? []).filter((c) => c.status === 'SUCCESS');
      expect(successes.length, describeChecks(checks ?? [])).toBeGreaterThan(0);
    }
  });
});
