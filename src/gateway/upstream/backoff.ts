/**
 * Delay before reconnect attempt number `attempt` (0 for the first): `initialMs` doubling per attempt
 * up to `maxMs`, then "equal jitter" (a random point in the upper half) so that many upstreams that
 * failed together do not reconnect in lockstep.
 */
export function restartDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
