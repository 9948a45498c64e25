import type { AgentSingleMessageInput } from '../../src/core/agent-protocol.ts';

/**
 * How much task log text an agent keeps while it is disconnected. Results, failures and the other
 * messages are always kept (there is one per task); log lines of a chatty task are not, or a long
 * outage would grow the outbox without bound.
 */
export const OFFLINE_LOG_BYTES = 4 * 1024 * 1024;

type LogMessage = Extract<AgentSingleMessageInput, { type: 'log' }>;

function isLog(message: AgentSingleMessageInput): message is LogMessage {
  return message.type === 'log';
}

/** The log text bytes (UTF-16 length, a cheap stand-in) an outbox holds. */
export function logBytes(outbox: readonly AgentSingleMessageInput[]): number {
  let bytes = 0;
  for (const message of outbox)
    if (isLog(message)) for (const line of message.lines) bytes += line.text.length;
  return bytes;
}

/**
 * The outbox with its log lines cut to at most `maxBytes` of text: the oldest lines go first, other
 * messages stay where they are, and each task that lost lines gets a line saying how many, before
 * its remaining ones (so the task log shows the gap).
 */
export function boundLogs(
  outbox: readonly AgentSingleMessageInput[],
  maxBytes: number,
): AgentSingleMessageInput[] {
  let excess = logBytes(outbox) - maxBytes;
  if (excess <= 0) return [...outbox];
  const dropped = new Map<string, number>();
  const kept: AgentSingleMessageInput[] = [];
  for (const message of outbox) {
    if (!isLog(message) || excess <= 0) {
      kept.push(message);
      continue;
    }
    let first = 0;
    while (first < message.lines.length && excess > 0) {
      excess -= (message.lines[first] as { text: string }).text.length;
      first++;
    }
    dropped.set(message.taskId, (dropped.get(message.taskId) ?? 0) + first);
    if (first < message.lines.length) kept.push({ ...message, lines: message.lines.slice(first) });
  }
  for (const [taskId, count] of dropped) {
    const note = {
      stream: 'info' as const,
      text: `[ziggie sdk] ${count} log lines dropped while disconnected`,
    };
    const next = kept.find((m): m is LogMessage => isLog(m) && m.taskId === taskId);
    if (next) kept[kept.indexOf(next)] = { ...next, lines: [note, ...next.lines].slice(0, 1000) };
    else kept.push({ type: 'log', taskId, lines: [note] });
  }
  return kept;
}
