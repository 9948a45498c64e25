import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One check of a scenario, as the official conformance suite writes it in `checks.json`. */
export interface Check {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  description: string;
  errorMessage?: string;
}

export interface SuiteRun {
  exitCode: number | null;
  output: string;
  /** Scenario name → its checks, from the `checks.json` the suite writes per scenario. */
  scenarios: Map<string, Check[]>;
}

const RUN_TIMEOUT_MS = 50_000;

/** A conformance package's CLI entry (`bin.conformance` of its package.json). */
function conformanceBin(packageName: string): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve(`${packageName}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: { conformance: string } };
  return join(dirname(manifestPath), manifest.bin.conformance);
}

/**
 * Runs `conformance server --url <url> <selection…> --output-dir <outDir>` of the given package with
 * the Node running the tests (killed after 50 s), and reads every scenario's `checks.json`.
 */
export async function runConformanceSuite(
  packageName: string,
  url: string,
  selection: readonly string[],
  outDir: string,
): Promise<SuiteRun> {
  const args = [conformanceBin(packageName), 'server', '--url', url, ...selection, '--output-dir', outDir];
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

/** The checks worth showing in a failure message, one line each. */
export function describeChecks(checks: readonly Check[]): string {
  return checks
    .filter((c) => c.status !== 'INFO')
    .map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description}`)
    .join('\n');
}
