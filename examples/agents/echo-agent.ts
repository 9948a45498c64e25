/**
 * A remote agent that echoes its input, reporting progress on the way (docs/orchestrator.md,
 * "Remote agents and the SDK"). Run it against a Ziggie with an agent key:
 *
 *   ZIGGIE_URL=http://localhost:4000 ZIGGIE_TOKEN=zgk_… npx node examples/agents/echo-agent.ts
 *
 * Stops on Ctrl-C (its running tasks' leases run out and they are retried elsewhere).
 */
import { connectAgent } from '../../sdk/src/index.ts';

const url = process.env.ZIGGIE_URL ?? 'http://localhost:4000';
const token = process.env.ZIGGIE_TOKEN;
if (!token) {
  console.error('set ZIGGIE_TOKEN to an agent API key (ziggie keys create --agent <id>, or POST /api/keys)');
  process.exit(2);
}
const steps = Number(process.env.ECHO_STEPS ?? 3);

const agent = connectAgent({
  url,
  token,
  reconnect: true,
  onError: (error) => console.error(`echo-agent: ${error.message}`),
  async handler(task, ctx) {
    ctx.log(`echoing ${task.taskType} ${task.id} (attempt ${task.attempt})`);
    for (let step = 1; step <= steps; step++) {
      // Stop at once when the task is cancelled.
      ctx.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 100));
      ctx.progress(step, steps, `step ${step} of ${steps}`);
    }
    return { echo: task.input };
  },
});

try {
  await agent.connected;
} catch (error) {
  console.error(`echo-agent: ${(error as Error).message}`);
  process.exit(1);
}
console.log(`echo-agent: connected to ${url} as ${agent.hello?.agentId} (node ${agent.hello?.nodeId})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void agent.close().then(() => process.exit(0));
  });
}
