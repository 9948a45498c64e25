import { Client, type ClientOptions, type HandlerResultTypeMap } from '@modelcontextprotocol/client';
import packageJson from '../../../package.json' with { type: 'json' };
import type { ProtocolPin } from '../../core/upstream-spec.ts';
import type { UpstreamClientRequestMethod, UpstreamEra, UpstreamHooks } from './types.ts';

/** Who Ziggie says it is to upstreams. */
export const CLIENT_INFO = { name: 'ziggie', version: packageJson.version } as const;

/** What Ziggie tells upstreams it can do: it relays these to the downstream client that caused them. */
export const CLIENT_CAPABILITIES: NonNullable<ClientOptions['capabilities']> = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

/** Server-to-client requests relayed to the gateway (on 2026 upstreams they arrive as `input_required`). */
const CLIENT_REQUESTS: readonly UpstreamClientRequestMethod[] = [
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
];

/** Notifications relayed to the gateway; progress is not here, it belongs to its call. */
const RELAYED_NOTIFICATIONS = [
  'notifications/message',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
  'notifications/resources/updated',
  'notifications/elicitation/complete',
] as const;

/**
 * `auto` probes with `server/discover` and falls back to `initialize`; a 2026 pin must get exactly
 * that revision; a 2025 pin is the plain `initialize` handshake (the SDK offers 2025-11-25 first).
 */
function versionNegotiation(pin: ProtocolPin): ClientOptions['versionNegotiation'] {
  if (pin === 'auto') return { mode: 'auto' };
  if (pin === '2025-11-25') return { mode: 'legacy' };
  return { mode: { pin } };
}

/**
 * A fresh SDK client for one connection attempt to upstream `server`, with the gateway's hooks
 * installed for everything the upstream starts.
 */
export function createUpstreamClient(server: string, pin: ProtocolPin, hooks: UpstreamHooks): Client {
  const client = new Client(
    { ...CLIENT_INFO },
    { capabilities: CLIENT_CAPABILITIES, versionNegotiation: versionNegotiation(pin) },
  );
  for (const method of CLIENT_REQUESTS) {
    client.setRequestHandler(method, async (request, ctx) => {
      // On a 2026 upstream the request comes out of an `input_required` result, and its id is the key
      // the upstream gave it there: kept, so the client sees the upstream's own names.
      const name = client.getProtocolEra() === 'modern' ? String(ctx.mcpReq.id) : undefined;
      const result = await hooks.onClientRequest(server, method, request.params, ctx.mcpReq.signal, name);
      // The SDK validates sampling and elicitation results against the spec schemas before sending.
      return result as HandlerResultTypeMap[typeof method];
    });
  }
  for (const method of RELAYED_NOTIFICATIONS) {
    client.setNotificationHandler(method, (notification) => {
      hooks.onNotification(server, method, notification.params as Record<string, unknown> | undefined);
    });
  }
  return client;
}

/** What the connected client learned about the upstream, for `UpstreamStatus`. */
export interface NegotiatedInfo {
  era?: UpstreamEra;
  protocolVersion?: string;
  serverInfo?: { name: string; version: string };
}

export function negotiatedInfo(client: Client): NegotiatedInfo {
  const era = client.getProtocolEra();
  const protocolVersion = client.getNegotiatedProtocolVersion();
  const server = client.getServerVersion();
  return {
    ...(era ? { era: era === 'modern' ? '2026' : '2025' } : {}),
    ...(protocolVersion ? { protocolVersion } : {}),
    ...(server ? { serverInfo: { name: server.name, version: server.version } } : {}),
  };
}

/**
 * 2026 upstreams send no unsolicited notifications: they stream `list_changed` only on a
 * `subscriptions/listen` request. Opens one for every list the server says can change; resolves
 * `undefined` when there is nothing to listen to.
 */
export async function listenForListChanges(client: Client, timeoutMs: number) {
  const capabilities = client.getServerCapabilities() ?? {};
  const filter = {
    ...(capabilities.tools?.listChanged ? { toolsListChanged: true } : {}),
    ...(capabilities.prompts?.listChanged ? { promptsListChanged: true } : {}),
    ...(capabilities.resources?.listChanged ? { resourcesListChanged: true } : {}),
  };
  if (Object.keys(filter).length === 0) return undefined;
  return client.listen(filter, { timeout: timeoutMs });
}
