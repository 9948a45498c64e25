import { startAgentsPool } from './agents-pool.ts';
import { createAgentKeys, type Rest } from './rest.ts';
import type { ZiggieProcess } from './ziggie-process.ts';

export const RSS_BUDGET_MIB = 512;

const SKILLS = Array.from({ length: 40 }, (_, i) => `skill_${i}`);
const WORKSPACES = Array.from({ length: 20 }, (_, i) => `ws-${i}`);

/**
 * `total` agents for `POST /api/agents/import`, shaped like the seeds (an L0; L1 leads with 8 L2
 * and 64 L3 each; standalone L1s for the rest; 2 skills each); the first `remote` L3s are bound to
 * the remote executor, to connect. Answers the import body and the remote agents' ids.
 */
export function generateImport(total: number, remote: number): { agents: object[]; remoteIds: string[] } {
  const agents: object[] = [];
  const remoteIds: string[] = [];
  const skills = (seed: number) => [SKILLS[seed % 40], SKILLS[(seed * 7 + 13) % 40]];
  agents.push({ id: 'root', name: 'Root', tier: 'L0', skills: ['coordination'] });
  for (let lead = 0; agents.length + 73 <= total; lead++) {
    const workspace = WORKSPACES[lead % WORKSPACES.length];
    const leadId = `lead-${lead}`;
    agents.push({ id: leadId, name: leadId, tier: 'L1', parent: 'root', workspace, skills: skills(lead) });
    for (let a = 0; a < 8; a++) {
      const l2 = `${leadId}.l2-${a}`;
      agents.push({ id: l2, name: l2, tier: 'L2', parent: leadId, workspace, skills: skills(lead + a) });
      for (let b = 0; b < 8; b++) {
        const id = `${l2}.l3-${b}`;
        const isRemote = remoteIds.length < remote;
        if (isRemote) remoteIds.push(id);
        agents.push({
          id,
          name: id,
          tier: 'L3',
          parent: l2,
          workspace,
          skills: skills(lead + a + b),
          ...(isRemote ? { executor: { type: 'remote' } } : {}),
        });
      }
    }
  }
  for (let i = 0; agents.length < total; i++) {
    agents.push({ id: `solo-${i}`, name: `solo-${i}`, tier: 'L1', parent: 'root', skills: skills(i) });
  }
  if (remoteIds.length < remote)
    throw new Error(`only ${remoteIds.length} L3 agents among ${total} to connect`);
  return { agents, remoteIds };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The server's RSS idle, after importing `registered` agents, and with `connected` of them
 * connected (SDK, from the agents process, concurrency 1 each) for a few seconds.
 */
export async function measureMemory(
  ziggie: ZiggieProcess,
  rest: Rest,
  options: { registered: number; connected: number; progress: (message: string) => void },
) {
  await pause(2000);
  const idle = ziggie.memory();
  const { agents, remoteIds } = generateImport(options.registered, options.connected);
  options.progress(`memory: importing ${agents.length} agents`);
  let started = performance.now();
  const { imported } = await rest.request<{ imported: number }>('POST', '/api/agents/import', { agents });
  const importMs = performance.now() - started;
  const afterImport = ziggie.memory();
  options.progress(`memory: ${remoteIds.length} agent keys`);
  started = performance.now();
  const keys = await createAgentKeys(rest, remoteIds);
  const keysMs = performance.now() - started;
  const pool = startAgentsPool();
  try {
    options.progress(`memory: connecting ${keys.length} agents`);
    const connectMs = await pool.connect(ziggie.url, keys, 1, 200);
    // Let the connections settle (hello/ready, empty claims, first pings).
    await pause(5000);
    const connected = ziggie.memory();
    const stats = await pool.stats();
    return {
      registered: imported,
      connected: keys.length,
      idleRssMiB: idle.rssMiB,
      afterImportRssMiB: afterImport.rssMiB,
      rssMiB: connected.rssMiB,
      peakRssMiB: connected.peakRssMiB,
      budgetMiB: RSS_BUDGET_MIB,
      pass: connected.rssMiB < RSS_BUDGET_MIB,
      importMs: Math.round(importMs),
      keysMs: Math.round(keysMs),
      connectMs: Math.round(connectMs),
      agentsProcessRssMiB: stats.rssMiB,
      agentErrors: stats.errors,
    };
  } finally {
    await pool.close();
  }
}
