/**
 * Ziggie's error codes: one registry, never reused, each documented in docs/errors.md
 * (a test fails when a code here has no entry there).
 *
 * A `ZiggieError` is a local error that knows how it appears on the wire: a stable string code,
 * an HTTP status for REST, and a JSON-RPC code for MCP.
 */

/** JSON-RPC error codes used on MCP endpoints (the MCP/JSON-RPC standard ones plus the MCP range). */
export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** MCP: resource not found. */
  RESOURCE_NOT_FOUND: -32002,
  /** MCP 2026-07-28: the request needs a client capability the client did not declare. */
  MISSING_CLIENT_CAPABILITY: -32021,
} as const;

interface ErrorCodeInfo {
  readonly status: number;
  readonly jsonRpc: number;
  readonly summary: string;
}

/** Every error code Ziggie puts on the wire. Add new codes at the end; never rename or reuse one. */
export const ERROR_CODES = {
  CONFIG_INVALID: { status: 400, jsonRpc: JSONRPC.INVALID_PARAMS, summary: 'The configuration is invalid.' },
  CONFIG_NOT_FOUND: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'A configuration file is missing.',
  },
  VALIDATION_FAILED: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'A request body or parameter is invalid.',
  },
  NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The addressed entity does not exist.',
  },
  CONFLICT: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The entity already exists or clashes with another.',
  },
  UPSTREAM_NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'No upstream MCP server has that name.',
  },
  UPSTREAM_UNAVAILABLE: {
    status: 503,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'The upstream MCP server is not connected (its state is named).',
  },
  UPSTREAM_TIMEOUT: {
    status: 504,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'The upstream MCP server did not answer within the call timeout.',
  },
  UPSTREAM_CIRCUIT_OPEN: {
    status: 503,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'Calls to the upstream are paused after repeated failures (circuit breaker open).',
  },
  UPSTREAM_ERROR: {
    status: 502,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'The upstream MCP server answered with an error.',
  },
  TOOL_NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'No tool has that name on this endpoint.',
  },
  TOOL_PENDING_APPROVAL: {
    status: 403,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The tool definition changed and strict pinning hides it until approved.',
  },
  TOOL_ARGUMENTS_INVALID: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: "The arguments do not match the tool's input schema.",
  },
  RESOURCE_NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.RESOURCE_NOT_FOUND,
    summary: 'No resource has that URI on this endpoint.',
  },
  PROMPT_NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'No prompt has that name on this endpoint.',
  },
  CLIENT_CAPABILITY_MISSING: {
    status: 400,
    jsonRpc: JSONRPC.MISSING_CLIENT_CAPABILITY,
    summary:
      'The upstream asked the client for something (sampling, elicitation, roots) the client does not support.',
  },
  HOST_NOT_ALLOWED: {
    status: 403,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary: 'The Host header is not an allowed host (DNS-rebinding protection).',
  },
  ORIGIN_NOT_ALLOWED: {
    status: 403,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary: 'The Origin header is not an allowed origin (DNS-rebinding protection).',
  },
  BODY_TOO_LARGE: {
    status: 413,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary: 'The request body is over the configured size limit.',
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'The database cannot be reached.',
  },
  INTERNAL: {
    status: 500,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'An unexpected error; the server log has the details.',
  },
  CLI_USAGE: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'A command-line argument is missing or invalid.',
  },
  GATEWAY_UNREACHABLE: {
    status: 503,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'The CLI could not reach a running Ziggie.',
  },
  TASK_TRANSITION_INVALID: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The task cannot move to the asked state from the one it is in.',
  },
  HELD_CALLS_EXCEEDED: {
    status: 429,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary:
      'Too many calls of one identity are waiting for client input (gateway.heldCalls.maxPerIdentity).',
  },
  AUTH_REQUIRED: {
    status: 401,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary: 'The request carries no credentials and the route needs an identity.',
  },
  AUTH_INVALID: {
    status: 401,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary:
      'The credentials given are not valid (unknown, expired, revoked, forged or for another audience).',
  },
  PERMISSION_DENIED: {
    status: 403,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary: 'The identity lacks the permission the route or method needs (the message names it).',
  },
  RATE_LIMITED: {
    status: 429,
    jsonRpc: JSONRPC.INVALID_REQUEST,
    summary: 'The identity used up its request or tool-call rate; Retry-After says when to try again.',
  },
  AUDIT_CHAIN_BROKEN: {
    status: 409,
    jsonRpc: JSONRPC.INTERNAL_ERROR,
    summary: 'The audit log hash chain does not verify; the message names the first broken entry.',
  },
  WORKSPACE_NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'No workspace has that name.',
  },
  WORKSPACE_EXISTS: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'A workspace with that name already exists.',
  },
  WORKSPACE_PORT_OVERLAP: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: "The port range overlaps another workspace's; the message names both.",
  },
  WORKSPACE_PORTS_EXHAUSTED: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'Every port of the workspace range is handed out (or it has no range).',
  },
  AGENT_NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'No agent has that id.',
  },
  AGENT_EXISTS: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'An agent with that id already exists (or an import gives it twice).',
  },
  AGENT_TIER_UNKNOWN: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The tier is not one of L0, L1, L2, L3.',
  },
  AGENT_PARENT_NOT_FOUND: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The parent named for an agent does not exist.',
  },
  AGENT_HIERARCHY_CYCLE: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The parent would make a cycle in the hierarchy; the message shows it.',
  },
  AGENT_PARENT_TIER_INVALID: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'A parent must be in a higher tier than its children.',
  },
  TASK_NOT_FOUND: {
    status: 404,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'No task has that id.',
  },
  TASK_DELEGATION_REFUSED: {
    status: 403,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The delegation breaks a rule (down only, no loop, maximum depth); the message names it.',
  },
  TASK_ASSIGNEE_UNAVAILABLE: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The agent named to take the task is disabled or offline.',
  },
  EXECUTOR_BINDING_INVALID: {
    status: 400,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: "An agent's executor binding is not one Ziggie can run; the message names the field.",
  },
  TASK_LEASE_LOST: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The agent reports on a task attempt it no longer holds.',
  },
  BUDGET_EXCEEDED: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'An agent or workspace budget is used up; no new assignments.',
  },
  AGENT_NOT_CONNECTED: {
    status: 409,
    jsonRpc: JSONRPC.INVALID_PARAMS,
    summary: 'The remote agent has no live connection.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code, a message for humans and optional structured details. */
export class ZiggieError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ZiggieError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get jsonRpcCode(): number {
    return ERROR_CODES[this.code].jsonRpc;
  }

  /** The REST wire shape `{error: {code, message, details?}}`. */
  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return {
      error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) },
    };
  }
}

export function isZiggieError(value: unknown): value is ZiggieError {
  return value instanceof ZiggieError;
}
