import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeChecks, runConformanceSuite, type SuiteRun } from '../helpers/conformance-suite.ts';
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

describe('MCP conformance suite through /servers/<name>/mcp', () => {
  let harness: Harness;
  let outDir: string;
  let run: SuiteRun;

  beforeAll(async () => {
    harness = await startZiggie({
      // The fixture serves both eras; pinned to 2025-11-25 so this run stays 2025 client → 2025 upstream
      // (the 2025 client → 2026 upstream pairing is covered by test/gateway/*, subscriptions included).
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
    run = await runConformanceSuite(
      '@modelcontextprotocol/conformance',
      `${harness.baseUrl}/servers/conformance/mcp`,
      ['--suite', 'all'],
      outDir,
    );
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
