import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { RemoteUpstreamSpec } from '../../core/upstream-spec.ts';
import { createTransport } from './create-transport.ts';
import { createHttpTransport } from './http-transport.ts';
import { createSseTransport } from './sse-transport.ts';
import { createStdioTransport } from './stdio-transport.ts';
import { everythingStdio } from './test-helpers.ts';
import { createWsTransport, WebSocketClientTransport } from './ws-transport.ts';

function remoteSpec(transport: RemoteUpstreamSpec['transport'], url: string): RemoteUpstreamSpec {
  return {
    name: 'probe',
    enabled: true,
    connect: 'eager',
    protocol: 'auto',
    transport,
    url,
    headers: { authorization: 'Bearer s3cret', 'x-api-key': 'k1' },
  };
}

describe('HTTP and SSE adapters send the configured headers', () => {
  const seen: { method: string; headers: IncomingHttpHeaders }[] = [];
  let server: Server;
  let base = '';
  beforeAll(async () => {
    // Records every request and refuses it: the headers are all this test looks at.
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', headers: req.headers });
      res.writeHead(500).end('no');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('Streamable HTTP puts them on the POSTs', async () => {
    seen.length = 0;
    const transport = createHttpTransport(remoteSpec('http', `${base}/mcp`));
    await transport.start();
    await expect(transport.send({ jsonrpc: '2.0', id: 1, method: 'ping' })).rejects.toThrow();
    await transport.close();
    expect(seen[0]?.method).toBe('POST');
    expect(seen[0]?.headers).toMatchObject({ authorization: 'Bearer s3cret', 'x-api-key': 'k1' });
  });

  it('SSE puts them on the event-stream GET', async () => {
    seen.length = 0;
    const transport = createSseTransport(remoteSpec('sse', `${base}/sse`));
    await expect(transport.start()).rejects.toThrow();
    await transport.close();
    expect(seen[0]?.method).toBe('GET');
    expect(seen[0]?.headers).toMatchObject({ authorization: 'Bearer s3cret', 'x-api-key': 'k1' });
  });
});

describe('stdio adapter', () => {
  it('is the SDK transport itself, pipes stderr line by line and survives a throwing sink', async () => {
    const lines: string[] = [];
    const spec = everythingStdio({
      command: process.execPath,
      args: ['-e', 'process.stderr.write("first\\nsecond\\r\\npartial"); setTimeout(() => {}, 50)'],
    });
    const transport = createStdioTransport(spec, (line) => {
      lines.push(line);
      throw new Error('a broken log sink');
    });
    // Exactly the SDK class: only it gets the disposable-sibling probe in `auto` negotiation.
    expect(Object.getPrototypeOf(transport)).toBe(StdioClientTransport.prototype);
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve;
    });
    await transport.start();
    await closed;
    expect(lines).toEqual(['first', 'second', 'partial']);
  });

  it('createTransport picks the adapter by spec.transport', () => {
    expect(createTransport(everythingStdio(), () => {})).toBeInstanceOf(StdioClientTransport);
    expect(createTransport(remoteSpec('ws', 'ws://127.0.0.1:1'), () => {})).toBeInstanceOf(
      WebSocketClientTransport,
    );
  });
});

describe('WebSocketClientTransport', () => {
  let wss: WebSocketServer;
  let url = '';
  const protocols: string[] = [];
  beforeAll(async () => {
    wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (offered) => [...offered][0] ?? false,
    });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (socket) => {
      protocols.push(socket.protocol);
      socket.on('message', (data, isBinary) => {
        const text = String(data);
        if (text.includes('"close-me"')) socket.close(4000, 'asked to');
        else if (text.includes('"junk"')) socket.send('{not json');
        else if (text.includes('"binary"')) socket.send(Buffer.from([1, 2, 3]), { binary: true });
        else socket.send(text, { binary: isBinary });
      });
    });
  });
  afterAll(() => new Promise<void>((resolve) => wss.close(() => resolve())));

  it('rejects send() before start and after close', async () => {
    const transport = createWsTransport(remoteSpec('ws', url));
    const before = await transport.send({ jsonrpc: '2.0', method: 'x' }).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(SdkError);
    expect((before as SdkError).code).toBe(SdkErrorCode.NotConnected);
    let closes = 0;
    transport.onclose = () => closes++;
    await transport.start();
    await transport.close();
    await expect(transport.send({ jsonrpc: '2.0', method: 'x' })).rejects.toThrow('WebSocket is not open');
    expect(closes).toBe(1);
  });

  it('round-trips JSON text frames with subprotocol mcp; reports junk and binary frames as errors', async () => {
    const transport = new WebSocketClientTransport(new URL(url));
    const messages: unknown[] = [];
    const errors: string[] = [];
    transport.onmessage = (message) => messages.push(message);
    transport.onerror = (error) => errors.push(error.message);
    await transport.start();
    await transport.send({ jsonrpc: '2.0', method: 'junk' });
    await transport.send({ jsonrpc: '2.0', method: 'binary' });
    await transport.send({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]).toEqual({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    expect(errors).toHaveLength(2);
    expect(errors[1]).toContain('binary');
    expect(protocols.at(-1)).toBe('mcp');
    await transport.close();
  });

  it('calls onclose when the server closes the socket', async () => {
    const transport = new WebSocketClientTransport(new URL(url));
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve;
    });
    await transport.start();
    await transport.send({ jsonrpc: '2.0', method: 'close-me' });
    await closed;
  });

  it('start() rejects when the upgrade is refused', async () => {
    const http = createServer((_req, res) => res.writeHead(403).end());
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    const transport = new WebSocketClientTransport(new URL(`ws://127.0.0.1:${port}`));
    await expect(transport.start()).rejects.toThrow('HTTP 403');
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
});
