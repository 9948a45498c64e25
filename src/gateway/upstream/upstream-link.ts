import type { Client, JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { processTree, terminate, trackChild, untrackChild } from './process-tree.ts';
import type { RawChannel } from './raw-channel.ts';

/** Time a stdio child gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2000;

/** One client + transport pair for one connection attempt: single-use, replaced on every reconnect. */
export interface Link {
  readonly client: Client;
  readonly transport: Transport;
  /** The stdio child, once connected. */
  pid?: number;
  /** Requests beside the SDK client (2026-07-28 upstreams, once connected): the Tasks extension. */
  raw?: RawChannel;
  closing?: Promise<void>;
}

/** Registers a connected stdio child for the exit-time kill. */
export function adoptChild(link: Link): void {
  if (link.transport instanceof StdioClientTransport && link.transport.pid !== null) {
    link.pid = link.transport.pid;
    trackChild(link.pid);
  }
}

/**
 * Closes a link once (later calls share the first). For stdio, the child and its descendants get
 * SIGTERM at once, alongside the SDK's polite close of stdin, then SIGKILL after the grace period.
 */
export function closeLink(link: Link): Promise<void> {
  link.closing ??= (async () => {
    // Read before close(): the SDK forgets the process as soon as it starts closing.
    const pid = link.pid ?? (link.transport instanceof StdioClientTransport ? link.transport.pid : null);
    const tree = pid ? processTree(pid) : [];
    const closing = link.client.close().catch(() => {});
    await terminate(tree, KILL_GRACE_MS);
    await closing;
    if (pid) untrackChild(pid);
  })();
  return link.closing;
}

/**
 * Delivers responses one microtask after the messages before them. The SDK runs notification
 * handlers a microtask late but settles a response at once, dropping the call's progress handler:
 * a final progress notification read in the same chunk as its response would be lost.
 * Installed after the handshake, over the handler the SDK set.
 */
export function deferResponses(transport: Transport): void {
  const deliver = transport.onmessage;
  if (!deliver) return;
  transport.onmessage = ((message: JSONRPCMessage, extra?: unknown) => {
    if ('id' in message && !('method' in message)) queueMicrotask(() => deliver(message, extra as never));
    else deliver(message, extra as never);
  }) as Transport['onmessage'];
}

/** Rejects with `message` when `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
