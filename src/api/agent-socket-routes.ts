import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Agent } from '../core/agent.ts';
import { AGENT_CONNECT_PATH } from '../core/agent-protocol.ts';
import { ZiggieError } from '../core/errors.ts';
import type { AgentHub } from '../orchestrator/agent-hub.ts';
import type { RouteDoc } from './openapi.ts';

const DOC: RouteDoc = {
  summary: 'Remote agents connect here (WebSocket)',
  tags: ['agents'],
  description:
    'A WebSocket (`Upgrade: websocket`) for remote agents (executor `{type: "remote"}`), authenticated ' +
    "as an agent: an agent API key or an agent's access token as `Authorization: Bearer`. The server " +
    'says `hello`, the agent answers `ready`, then receives `tasks` and sends `heartbeat`, `progress`, ' +
    '`log`, `result`, `failure`, `await_subtasks` (or several as one `batch`). Messages are JSON, ' +
    'defined in src/core/agent-protocol.ts; see docs/orchestrator.md "Remote agents and the SDK". ' +
    'A plain GET (no upgrade) answers 400.',
  response: { 101: { description: 'Switching Protocols: the agent connection' } },
  'x-ziggie-errors': ['AGENT_NOT_FOUND', 'EXECUTOR_BINDING_INVALID', 'VALIDATION_FAILED'],
};

/**
 * `GET /api/agents/connect`: the WebSocket of remote agents, handed to the AgentHub. Refused before
 * the upgrade (as an HTTP answer) for identities that are not agents and for agents bound to
 * another executor. Connections that stop answering pings are closed.
 */
export async function agentSocketRoutes(app: FastifyInstance, { hub }: { hub: AgentHub }): Promise<void> {
  const admitted = new WeakMap<FastifyRequest, Agent>();
  const alive = new Map<WebSocket, boolean>();

  // One timer for every connection: a socket that did not answer the last ping is gone.
  const timer = setInterval(() => {
    for (const [socket, answered] of alive) {
      if (!answered) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, hub.leaseMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.route({
    method: 'GET',
    url: AGENT_CONNECT_PATH,
    config: { access: 'EXECUTE_TASK' },
    schema: DOC,
    preHandler: async (request) => {
      if (!request.ws) return;
      const actor = request.actor;
      if (actor?.type !== 'agent') {
        throw new ZiggieError(
          'PERMISSION_DENIED',
          `${AGENT_CONNECT_PATH} is for agents: connect with an agent API key or an agent's access token (this is ${actor?.type ?? 'nobody'} "${actor?.id ?? ''}")`,
          { actor: actor?.type ?? null },
        );
      }
      admitted.set(request, await hub.admit(actor.id));
    },
    handler: async () => {
      throw new ZiggieError(
        'VALIDATION_FAILED',
        `${AGENT_CONNECT_PATH} is a WebSocket endpoint: connect with "Upgrade: websocket" (the SDK's connectAgent)`,
      );
    },
    wsHandler: (socket, request) => {
      const agent = admitted.get(request);
      if (!agent) return socket.close(1011, 'not admitted');
      const session = hub.connect(
        agent,
        { send: (text) => socket.send(text), close: (code, reason) => socket.close(code, reason) },
        { maxMessageBytes: app.websocketServer.options.maxPayload ?? 100 * 1024 * 1024 },
      );
      alive.set(socket, true);
      socket.on('pong', () => alive.set(socket, true));
      socket.on('message', (data) => {
        session.receive(data.toString());
      });
      socket.on('close', () => {
        alive.delete(socket);
        hub.disconnect(session);
      });
    },
  });
}
