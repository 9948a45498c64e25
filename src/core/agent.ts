import { z } from 'zod';
import { TIERS, type Tier } from './policy.ts';

/**
 * Agents of the registry (issue 3 §4): the schemas every surface validates with. The tier is read as
 * a plain string here and checked by the hierarchy rules (`agent-hierarchy.ts`), so that an unknown
 * tier gets its own error code instead of a generic validation failure.
 */

export const AGENT_STATUSES = ['idle', 'assigned', 'working', 'blocked', 'offline', 'disabled'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/**
 * Ids that name endpoints of their own under `/api/agents/` (`GET /api/agents/tree`, the agents'
 * WebSocket `GET /api/agents/connect`): an agent with such an id could not be read by its URL.
 */
export const RESERVED_AGENT_IDS: readonly string[] = ['connect', 'tree'];

/** Ids appear in URLs and CLI arguments: letters, digits, `.`, `_`, `-`. */
export const AgentIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    'an agent id is 1-128 letters, digits, ".", "_" and "-", starting with a letter or digit',
  )
  .refine((id) => !RESERVED_AGENT_IDS.includes(id), {
    error: (issue) =>
      `"${String(issue.input)}" is reserved (it names the endpoint /api/agents/${String(issue.input)}); ` +
      `agent ids may be anything else but ${RESERVED_AGENT_IDS.map((id) => `"${id}"`).join(' and ')}`,
  });

/** How the orchestrator runs the agent (`{type: "cli", command: …}`, `{type: "http", url: …}`, …). */
export const ExecutorSchema = z.looseObject({ type: z.string().min(1) });

const optionalText = z.string().min(1).max(200).nullable();

/** Every field but `id` and `tier`, with what they may hold. */
const fields = {
  name: z.string().min(1).max(200),
  team: optionalText,
  workspace: optionalText,
  parent: AgentIdSchema.nullable(),
  skills: z.array(z.string().min(1).max(100)).max(200),
  specialization: optionalText,
  status: z.enum(AGENT_STATUSES),
  /** Tasks it may hold at once. */
  capacity: z.number().int().min(0).max(10_000),
  /** Tasks it holds now. */
  workload: z.number().int().min(0).max(10_000),
  /** 0-100. */
  qualityScore: z.number().min(0).max(100),
  tasksCompleted: z.number().int().min(0),
  avgCompletionMs: z.number().min(0).nullable(),
  executor: ExecutorSchema.nullable(),
  metadata: z.record(z.string(), z.unknown()),
};

/** A new agent: `id`, `name` and `tier` required, the rest defaulted. */
export const NewAgentSchema = z.strictObject({
  id: AgentIdSchema,
  tier: z.string(),
  name: fields.name,
  team: fields.team.default(null),
  workspace: fields.workspace.default(null),
  parent: fields.parent.default(null),
  skills: fields.skills.default([]),
  specialization: fields.specialization.default(null),
  status: fields.status.default('idle'),
  capacity: fields.capacity.default(1),
  workload: fields.workload.default(0),
  qualityScore: fields.qualityScore.default(100),
  tasksCompleted: fields.tasksCompleted.default(0),
  avgCompletionMs: fields.avgCompletionMs.default(null),
  executor: fields.executor.default(null),
  metadata: fields.metadata.default({}),
});
export type NewAgentInput = z.infer<typeof NewAgentSchema>;
/** A new agent once its tier is known to be one. */
export type NewAgent = Omit<NewAgentInput, 'tier'> & { tier: Tier };

/** A change: any field but `id`. */
export const AgentPatchSchema = z.strictObject({
  tier: z.string().optional(),
  name: fields.name.optional(),
  team: fields.team.optional(),
  workspace: fields.workspace.optional(),
  parent: fields.parent.optional(),
  skills: fields.skills.optional(),
  specialization: fields.specialization.optional(),
  status: fields.status.optional(),
  capacity: fields.capacity.optional(),
  workload: fields.workload.optional(),
  qualityScore: fields.qualityScore.optional(),
  tasksCompleted: fields.tasksCompleted.optional(),
  avgCompletionMs: fields.avgCompletionMs.optional(),
  executor: fields.executor.optional(),
  metadata: fields.metadata.optional(),
});
export type AgentPatchInput = z.infer<typeof AgentPatchSchema>;
export type AgentPatch = Omit<AgentPatchInput, 'tier'> & { tier?: Tier };

/** A registered agent. */
export interface Agent extends NewAgent {
  createdAt: Date;
  updatedAt: Date;
}

export function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}

/** The fields of `patch` that differ from `current`, as `{field: {from, to}}` (for the audit log). */
export function agentChanges(
  current: NewAgent,
  patch: AgentPatch,
): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of Object.keys(patch) as Array<keyof AgentPatch>) {
    const to = patch[key];
    if (to === undefined) continue;
    const from = current[key];
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[key] = { from, to };
  }
  return changes;
}
