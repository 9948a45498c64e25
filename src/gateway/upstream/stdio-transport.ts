import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { StdioUpstreamSpec } from '../../core/upstream-spec.ts';

/** Lines longer than this are cut, so a server printing binary junk cannot grow our buffer. */
const MAX_STDERR_LINE = 8192;

/**
 * The SDK's stdio transport for a command upstream. `spec.env` is laid over the SDK's safe default
 * environment (PATH, HOME, …; the SDK merges them), and the child's stderr is piped and handed to
 * `onStderrLine` one line at a time.
 *
 * The transport is the SDK class itself, not a subclass: only the base class gets the SDK's
 * disposable-sibling `server/discover` probe in `auto` negotiation, which keeps a legacy server that
 * exits on unknown requests from losing its one process life to the probe.
 */
export function createStdioTransport(
  spec: StdioUpstreamSpec,
  onStderrLine: (line: string) => void,
): StdioClientTransport {
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args,
    env: spec.env,
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    stderr: 'pipe',
  });
  const stderr = transport.stderr;
  if (stderr) {
    let pending = '';
    const emit = (line: string) => {
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (trimmed.length === 0) return;
      try {
        onStderrLine(trimmed);
      } catch {
        // A faulty log sink must never take the connection down.
      }
    };
    stderr.on('data', (chunk: Buffer | string) => {
      pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        emit(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      if (pending.length > MAX_STDERR_LINE) {
        emit(pending.slice(0, MAX_STDERR_LINE));
        pending = '';
      }
    });
    stderr.on('end', () => {
      if (pending.length > 0) emit(pending);
      pending = '';
    });
    stderr.on('error', () => {
      // The child's stderr pipe broke (it exited): nothing to log, the transport reports the close.
    });
  }
  return transport;
}
