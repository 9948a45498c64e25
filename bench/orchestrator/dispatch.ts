import { connectAgent, createClient, type RemoteTask } from '../../sdk/src/index.ts';
import { percentile } from '../gateway/measure.ts';
import { createAgentKeys, createRemoteAgents, type Rest } from './rest.ts';
import { ADMIN_TOKEN, type ZiggieProcess } from './ziggie-process.ts';

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Dispatch latency with the system idle: one agent connected from this process (so that both
 * clocks are one), one task at a time named to it (`POST /api/tasks`), from just before the
 * request is sent until its handler starts; the next only once the previous is COMPLETED.
 */
export async function measureDispatch(
  ziggie: ZiggieProcess,
  rest: Rest,
  options: { samples: number; warmup: number; progress: (message: string) => void },
) {
  await createRemoteAgents(rest, ['lat-0'], 1);
  const [key] = await createAgentKeys(rest, ['lat-0']);
  const waiting = new Map<number, (at: number) => void>();
  const agent = connectAgent({
    url: ziggie.url,
    token: key!,
    concurrency: 1,
    onError: (error) => options.progress(`dispatch agent: ${error.message}`),
    handler: (task: RemoteTask) => {
      const at = performance.now();
      waiting.get((task.input as { probe: number }).probe)?.(at);
      return null;
    },
  });
  await agent.connected;
  const client = createClient({ url: ziggie.url, token: ADMIN_TOKEN });
  try {
    const dispatch: number[] = [];
    const submit: number[] = [];
    options.progress(`dispatch: ${options.warmup} warm-up + ${options.samples} tasks one at a time`);
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const started = new Promise<number>((resolve) => waiting.set(i, resolve));
      const sent = performance.now();
      const task = await client.submit({ taskType: 'probe', agentId: 'lat-0', input: { probe: i } });
      const answered = performance.now();
      const startedAt = await started;
      waiting.delete(i);
      if (i >= options.warmup) {
        dispatch.push(startedAt - sent);
        submit.push(answered - sent);
      }
      // Idle again: the result is in before the next task goes out.
      while ((await client.get(task.id)).status !== 'COMPLETED') {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    dispatch.sort((a, b) => a - b);
    submit.sort((a, b) => a - b);
    return {
      samples: options.samples,
      p50Ms: round(percentile(dispatch, 0.5)),
      p99Ms: round(percentile(dispatch, 0.99)),
      maxMs: round(dispatch.at(-1) ?? 0),
      submitAnsweredP50Ms: round(percentile(submit, 0.5)),
      submitAnsweredP99Ms: round(percentile(submit, 0.99)),
    };
  } finally {
    await agent.close();
  }
}
