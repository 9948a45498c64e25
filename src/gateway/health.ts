import type { ServerEntry } from './gateway.ts';

/** The seed facade's health word for one server: healthy, stopped, not_started or `unhealthy: <reason>`. */
export function healthWord(entry: ServerEntry): string {
  const { state, reason } = entry.status;
  switch (state) {
    case 'healthy':
    case 'stopped':
    case 'not_started':
      return state;
    case 'connecting':
      return 'unhealthy: connecting';
    case 'restarting':
      return `unhealthy: restarting${reason ? ` (${reason})` : ''}`;
    default:
      return `unhealthy: ${reason ?? 'unknown'}`;
  }
}

/** `degraded` when an enabled server that should be connected is not healthy. */
export function overallHealth(entries: readonly ServerEntry[]): 'healthy' | 'degraded' {
  const bad = entries.some(
    (e) =>
      e.spec.enabled &&
      e.status.state !== 'healthy' &&
      !(e.status.state === 'not_started' && e.spec.connect === 'lazy'),
  );
  return bad ? 'degraded' : 'healthy';
}
