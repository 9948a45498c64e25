import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPTED_VALUES_KEPT, registerHostOriginGuard } from './host-origin-guard.ts';

describe('registerHostOriginGuard', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    registerHostOriginGuard(app, { allowedHosts: ['ziggie.internal'], allowedOrigins: ['app.example'] });
    app.post('/mcp', async () => ({ ok: 'mcp' }));
    app.get('/api/x', async () => ({ ok: 'rest' }));
    await app.ready();
  });
  afterAll(() => app.close());

  const get = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/api/x', headers });

  it('lets allowed Host and Origin values through, the same again from the cache', async () => {
    for (let i = 0; i < 3; i++) {
      for (const host of ['localhost:3000', '127.0.0.1', '[::1]:8080', 'ziggie.internal:443']) {
        expect((await get({ host })).json()).toEqual({ ok: 'rest' });
      }
      for (const origin of ['http://localhost:5173', 'https://app.example', '']) {
        expect((await get({ host: 'localhost', origin })).statusCode).toBe(200);
      }
    }
  });

  it('refuses a foreign Host, in JSON-RPC on MCP endpoints and the REST shape elsewhere', async () => {
    for (let i = 0; i < 2; i++) {
      const mcp = await app.inject({ method: 'POST', url: '/mcp?x=1', headers: { host: 'evil.example:80' } });
      expect(mcp.statusCode).toBe(403);
      expect(mcp.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { message: /evil\.example/ } });
      const rest = await get({ host: 'evil.example' });
      expect(rest.statusCode).toBe(403);
      expect(rest.json().error.code).toBe('HOST_NOT_ALLOWED');
    }
  });

  it('refuses a foreign or unparsable Origin even when the Host is cached as allowed', async () => {
    await get({ host: 'localhost' });
    for (const origin of ['https://evil.example', 'null', 'not a url']) {
      const response = await get({ host: 'localhost', origin });
      expect(response.statusCode).toBe(403);
      expect(response.json().error.code).toBe('ORIGIN_NOT_ALLOWED');
    }
  });

  it('keeps checking every value once the cache is full', async () => {
    for (let port = 1; port <= ACCEPTED_VALUES_KEPT * 2; port++) {
      expect((await get({ host: `localhost:${port}` })).statusCode).toBe(200);
    }
    expect((await get({ host: 'localhost:65000' })).statusCode).toBe(200);
    expect((await get({ host: 'evil.example:1' })).statusCode).toBe(403);
  });
});
