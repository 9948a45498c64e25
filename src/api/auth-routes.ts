import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NewKeySchema, NewUserSchema, UserChangeSchema } from '../auth/accounts.ts';
import { LoginSchema, TokenRequestSchema } from '../auth/auth-service.ts';
import { type AuthService, type Identity, publicKey, publicUser } from '../auth/index.ts';
import { PERMISSIONS } from '../core/access.ts';
import { ZiggieError } from '../core/errors.ts';
import { MCP_PERMISSIONS } from '../core/policy.ts';
import { baseUrlOf, cookieOf, PROTECTED_RESOURCE_PATH } from './auth-hook.ts';
import { jsonSchemaOf, type RouteDoc } from './openapi.ts';

const authTags: RouteDoc['tags'] = ['auth'];
const users: RouteDoc['tags'] = ['users'];
const keys: RouteDoc['tags'] = ['keys'];
const DOCS = {
  login: {
    summary: 'Sign in (password or API key): sets the session cookie',
    tags: authTags,
    body: jsonSchemaOf(LoginSchema),
    response: { 200: { description: '`{user, expiresAt}`, and `Set-Cookie` with the session' } },
  },
  logout: {
    summary: 'End the session',
    tags: authTags,
    response: { 200: { description: '`{signedOut}`' } },
  },
  me: {
    summary: 'Who the request is',
    tags: authTags,
    response: { 200: { description: '`{actor: {type, id}, method, role?, tier?, permissions, expiresAt}`' } },
  },
  token: {
    summary: 'Mint an access token (JWT) for the caller',
    tags: authTags,
    body: jsonSchemaOf(TokenRequestSchema),
    response: {
      200: { description: '`{accessToken, tokenType: "Bearer", expiresIn, expiresAt, permissions}`' },
    },
  },
  listUsers: {
    summary: 'List users',
    tags: users,
    response: { 200: { description: '`{items: [user], nextCursor: null}`' } },
  },
  createUser: {
    summary: 'Create a user',
    tags: users,
    body: jsonSchemaOf(NewUserSchema),
    response: { 201: { description: 'The user' } },
    'x-ziggie-errors': ['CONFLICT'],
  },
  updateUser: {
    summary: 'Change a user (by id or user name)',
    tags: users,
    body: jsonSchemaOf(UserChangeSchema),
    response: { 200: { description: 'The user' } },
    'x-ziggie-errors': ['NOT_FOUND', 'CONFLICT'],
  },
  listKeys: {
    summary: "List API keys (all with users.manage, else the caller's)",
    tags: keys,
    response: { 200: { description: '`{items: [key], nextCursor: null}`' } },
  },
  createKey: {
    summary: 'Create an API key (for the caller, a role, or an agent)',
    tags: keys,
    body: jsonSchemaOf(NewKeySchema),
    response: { 201: { description: "The key's record and `key`, shown this once" } },
    'x-ziggie-errors': ['NOT_FOUND'],
  },
  revokeKey: {
    summary: 'Revoke an API key',
    tags: keys,
    response: { 204: { description: 'Revoked', type: 'null' } },
    'x-ziggie-errors': ['NOT_FOUND'],
  },
  resourceMetadata: {
    summary: 'OAuth 2.0 protected resource metadata (RFC 9728)',
    tags: authTags,
    response: {
      200: { description: '`{resource, resource_name, bearer_methods_supported, scopes_supported}`' },
    },
  },
} satisfies Record<string, RouteDoc>;

/** The identity the auth hook set; routes that are not public always have one. */
function identityOf(request: FastifyRequest): Identity {
  if (!request.identity) throw new ZiggieError('AUTH_REQUIRED', 'no identity on an authenticated route');
  return request.identity;
}

/**
 * Identities over REST: sign-in and sessions (`/api/auth/*`), access tokens, users and API keys,
 * and the MCP protected-resource metadata (RFC 9728).
 */
export async function authRoutes(app: FastifyInstance, { auth }: { auth: AuthService }): Promise<void> {
  const cookieName = auth.settings.sessions.cookieName;
  const secureCookie = (request: FastifyRequest) =>
    request.protocol === 'https' || auth.settings.publicUrl?.startsWith('https:') === true;
  const setCookie = (request: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) =>
    reply.header(
      'set-cookie',
      [
        `${cookieName}=${encodeURIComponent(value)}`,
        'Path=/',
        'HttpOnly',
        'SameSite=Strict',
        `Max-Age=${maxAgeSeconds}`,
        ...(secureCookie(request) ? ['Secure'] : []),
      ].join('; '),
    );

  app.post(
    '/api/auth/login',
    { config: { access: 'public' }, schema: DOCS.login },
    async (request, reply) => {
      const { cookie, session, user } = await auth.login(request.body, request.ip);
      setCookie(request, reply, cookie, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000));
      return { user: publicUser(user), expiresAt: session.expiresAt.toISOString() };
    },
  );

  app.post(
    '/api/auth/logout',
    { config: { access: 'authenticated' }, schema: DOCS.logout },
    async (request, reply) => {
      const ended = await auth.logout(request.identity, request.ip);
      if (cookieOf(request, cookieName) !== undefined) setCookie(request, reply, '', 0);
      return { signedOut: ended };
    },
  );

  app.get('/api/auth/me', { config: { access: 'authenticated' }, schema: DOCS.me }, async (request) => {
    const identity = identityOf(request);
    return {
      actor: identity.actor,
      method: identity.method,
      ...(identity.role ? { role: identity.role } : {}),
      ...(identity.tier ? { tier: identity.tier } : {}),
      permissions: [...identity.permissions],
      expiresAt: identity.expiresAt === undefined ? null : new Date(identity.expiresAt * 1000).toISOString(),
    };
  });

  app.post(
    '/api/auth/token',
    { config: { access: 'authenticated' }, schema: DOCS.token },
    async (request) => {
      const issued = await auth.issueToken(identityOf(request), request.body);
      return {
        accessToken: issued.token,
        tokenType: 'Bearer',
        expiresIn: issued.expiresAt - Math.floor(Date.now() / 1000),
        expiresAt: new Date(issued.expiresAt * 1000).toISOString(),
        permissions: issued.permissions,
      };
    },
  );

  app.get('/api/users', { config: { access: 'users.manage' }, schema: DOCS.listUsers }, async () => ({
    items: (await auth.accounts.listUsers()).map(publicUser),
    nextCursor: null,
  }));

  app.post(
    '/api/users',
    { config: { access: 'users.manage' }, schema: DOCS.createUser },
    async (request, reply) => {
      const user = await auth.accounts.createUser(identityOf(request), request.body, request.ip);
      return reply.code(201).send(publicUser(user));
    },
  );

  app.patch(
    '/api/users/:id',
    { config: { access: 'users.manage' }, schema: DOCS.updateUser },
    async (request) => {
      const { id } = request.params as { id: string };
      const user = await auth.accounts.updateUser(identityOf(request), id, request.body, request.ip);
      return publicUser(user);
    },
  );

  app.get('/api/keys', { config: { access: 'keys.manage' }, schema: DOCS.listKeys }, async (request) => ({
    items: (await auth.accounts.listKeys(identityOf(request))).map(publicKey),
    nextCursor: null,
  }));

  app.post(
    '/api/keys',
    { config: { access: 'keys.manage' }, schema: DOCS.createKey },
    async (request, reply) => {
      const { key, record } = await auth.accounts.createKey(identityOf(request), request.body, request.ip);
      // The key is in this answer and nowhere else.
      return reply.code(201).send({ ...publicKey(record), key });
    },
  );

  app.delete(
    '/api/keys/:id',
    { config: { access: 'keys.manage' }, schema: DOCS.revokeKey },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await auth.accounts.revokeKey(identityOf(request), id, request.ip);
      return reply.code(204).send();
    },
  );

  // RFC 9728: what an MCP client needs to know to authenticate. Ziggie is no OAuth authorization
  // server: tokens come from `POST /api/auth/token` or are API keys, sent as Bearer.
  const metadata = (request: FastifyRequest, path: string) => ({
    resource: `${baseUrlOf(request, auth.settings.publicUrl)}${path}`,
    resource_name: 'Ziggie',
    bearer_methods_supported: ['header'],
    scopes_supported: [
      ...MCP_PERMISSIONS,
      ...PERMISSIONS.filter((p) => !MCP_PERMISSIONS.includes(p as never)),
    ],
  });
  app.get(
    PROTECTED_RESOURCE_PATH,
    { config: { access: 'public' }, schema: DOCS.resourceMetadata },
    async (request) => metadata(request, '/'),
  );
  app.get(
    `${PROTECTED_RESOURCE_PATH}/*`,
    { config: { access: 'public' }, schema: DOCS.resourceMetadata },
    async (request) => metadata(request, `/${(request.params as { '*': string })['*']}`),
  );
}
