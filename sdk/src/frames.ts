import type { AgentSingleMessageInput } from '../../src/core/agent-protocol.ts';

/**
 * What an agent sends, as WebSocket frames: one message as itself, several as `batch` frames no
 * bigger than `maxMessageBytes` (the server's limit, from its `hello`). A message that cannot be sent
 * is reported through `report` and left out — except a result, which becomes its task's failure.
 */
export function toFrames(
  messages: readonly AgentSingleMessageInput[],
  maxMessageBytes: number,
  report: (error: Error) => void,
): string[] {
  // Room for the batch envelope.
  const limit = maxMessageBytes - 64;
  const frames: string[] = [];
  let parts: string[] = [];
  let size = 0;
  const emit = () => {
    if (parts.length === 0) return;
    frames.push(
      parts.length === 1 ? (parts[0] as string) : `{"type":"batch","messages":[${parts.join(',')}]}`,
    );
    parts = [];
    size = 0;
  };
  for (const message of messages) {
    const text = encode(message, limit, report);
    if (text === undefined) continue;
    const bytes = Buffer.byteLength(text) + 1;
    if (size + bytes > limit || parts.length >= 10_000) emit();
    parts.push(text);
    size += bytes;
  }
  emit();
  return frames;
}

/**
 * One message as JSON. A result JSON cannot carry (a BigInt, a cycle) or too big for one frame
 * fails its task for good instead of breaking the connection; anything else that big is dropped.
 */
function encode(
  message: AgentSingleMessageInput,
  limit: number,
  report: (error: Error) => void,
): string | undefined {
  let problem: string;
  try {
    const text = JSON.stringify(message);
    if (Buffer.byteLength(text) <= limit) return text;
    problem = `the ${message.type} is ${Buffer.byteLength(text)} bytes, more than the ${limit} one message may carry`;
  } catch (error) {
    problem = `the ${message.type} cannot be sent as JSON: ${(error as Error).message}`;
  }
  if (message.type === 'result') {
    return JSON.stringify({
      type: 'failure',
      taskId: message.taskId,
      error: { code: 'OUTPUT_NOT_SENDABLE', message: problem },
      retryable: false,
    });
  }
  report(new Error(`not sent: ${problem}`));
  return undefined;
}
