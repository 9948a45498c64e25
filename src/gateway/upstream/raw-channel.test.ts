import { InMemoryTransport, type JSONRPCMessage, SdkErrorCode } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { RawChannel } from './raw-channel.ts';

type Message = { id?: unknown; method?: string; params?: Record<string, unknown> };

/** A channel on one end of a linked pair; the other end records what arrives and can answer. */
async function setup() {
  const [near, far] = InMemoryTransport.createLinkedPair();
  const delivered: JSONRPCMessage[] = [];
  const received: Message[] = [];
  near.onmessage = (message) => delivered.push(message);
  far.onmessage = (message) => received.push(message as Message);
  await near.start();
  await far.start();
  const channel = new RawChannel(near);
  const answer = (message: Record<string, unknown>) =>
    far.send({ jsonrpc: '2.0', ...message } as JSONRPCMessage);
  const next = async () => {
    while (received.length === 0) await new Promise((r) => setTimeout(r, 1));
    return received.shift() as Message;
  };
  return { near, far, channel, delivered, answer, next };
}

describe('RawChannel', () => {
  it('resolves with the raw result, whatever its resultType, and leaves other messages to the SDK', async () => {
    const { channel, delivered, answer, next } = await setup();
    const pending = channel.request('tools/call', { name: 'x' }, new AbortController().signal);
    const request = await next();
    expect(request).toMatchObject({ method: 'tools/call', params: { name: 'x' } });
    expect(String(request.id)).toMatch(/^ziggie-raw-/);
    await answer({ id: 1, result: { resultType: 'complete', content: [] } });
    await answer({ id: request.id, result: { resultType: 'task', taskId: 't1' } });
    expect(await pending).toEqual({ resultType: 'task', taskId: 't1' });
    // The SDK's own response (numeric id) went to the SDK's handler.
    expect(delivered).toEqual([{ jsonrpc: '2.0', id: 1, result: { resultType: 'complete', content: [] } }]);
  });

  it("rejects with the upstream's JSON-RPC error", async () => {
    const { channel, answer, next } = await setup();
    const pending = channel.request('tasks/get', { taskId: 'nope' }, new AbortController().signal);
    const { id } = await next();
    await answer({ id, error: { code: -32602, message: 'Task not found' } });
    await expect(pending).rejects.toMatchObject({ code: -32602, message: 'Task not found' });
  });

  it('sends notifications/cancelled when aborted, and fails what is pending when the transport closes', async () => {
    const { near, channel, next } = await setup();
    const controller = new AbortController();
    const aborted = channel.request('tools/call', { name: 'x' }, controller.signal, { v: 1 });
    const { id } = await next();
    controller.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    expect(await next()).toMatchObject({
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'client went away', _meta: { v: 1 } },
    });

    const open = channel.request('tasks/get', { taskId: 't' }, new AbortController().signal);
    await next();
    await near.close();
    await expect(open).rejects.toMatchObject({ code: SdkErrorCode.ConnectionClosed });
    await expect(channel.request('tasks/get', {}, new AbortController().signal)).rejects.toMatchObject({
      code: SdkErrorCode.ConnectionClosed,
    });
  });
});
