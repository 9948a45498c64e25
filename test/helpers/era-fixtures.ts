import { join } from 'node:path';
import { type Harness, startZiggie, waitFor } from './ziggie-harness.ts';

/** The fixture that serves either era (`--legacy`: 2025-11-25 only; otherwise 2026-07-28 only). */
export const MODERN_FIXTURE = join(process.cwd(), 'test/fixtures/modern-server.ts');

/**
 * Ziggie in front of the fixture twice: `old`, a 2025-11-25 upstream (pinned), and `new`, a
 * 2026-07-28 upstream; resolves once both are listed. `env` goes to both fixture processes, `config`
 * is merged into Ziggie's.
 */
export async function startEraZiggie(
  env: Record<string, string> = {},
  config: Record<string, unknown> = {},
): Promise<Harness> {
  const harness = await startZiggie({
    ...config,
    mcpServers: {
      old: { command: process.execPath, args: [MODERN_FIXTURE, '--legacy'], env, protocol: '2025-11-25' },
      new: { command: process.execPath, args: [MODERN_FIXTURE], env },
    },
  });
  try {
    // Healthy first, then listed: the catalog lists an upstream just after it connects.
    await waitFor(
      () => ['old__echo', 'new__echo'].every((t) => harness.ziggie.gateway.aggregateView().resolveTool(t)),
      15_000,
      'both upstreams listed',
    );
    return harness;
  } catch (error) {
    await harness.stop();
    throw error;
  }
}
