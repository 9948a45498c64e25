import { randomUUID } from 'node:crypto';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { ZiggieError } from '../../core/errors.ts';
import type { UpstreamClientRequestMethod } from '../upstream/types.ts';

/**
 * Calls held open for stateless (2026-07-28) clients while the upstream waits for client input.
 *
 * A 2026 client cannot be called back: when an upstream asks for sampling, elicitation or roots
 * during its call, the gateway answers the client with `input_required` and keeps the upstream call
 * open here. The client's retry names the held call (in an HMAC'd `requestState`), carries the
 * answers, and the call goes on — over as many rounds as the upstream needs.
 */

/** What `requestState` carries (sealed by the SDK's HMAC codec). */
export interface HeldState {
  /** Held call id. */
  h: string;
  /** Round the state was issued for; an older round's state is a replay. */
  r: number;
}

/** One input request as it goes to the client. */
export interface InputRequestWire {
  method: UpstreamClientRequestMethod;
  params?: Record<string, unknown>;
}

export type HeldOutcome<T> =
  | { done: true; result: T }
  | { done: false; requests: Record<string, InputRequestWire> };

interface PendingInput extends InputRequestWire {
  resolve(result: Record<string, unknown>): void;
  reject(error: unknown): void;
  issued: boolean;
  /** Named by a 2026 upstream: one of the requests of its `input_required`, which all come at once. */
  named: boolean;
}

export interface HeldCallLimits {
  /** How long a call may wait for the client's retry (ms). */
  ttlMs: number;
  /** Calls one identity may hold at once. */
  maxPerIdentity: number;
}

const INVALID_STATE = 'Invalid or expired requestState';

/**
 * Once a 2025 upstream asked for something, a round gathers the other requests it sends at the same
 * time: they arrive one message at a time, and the client should get them in one `input_required`,
 * as a 2026 upstream would have put them (a 2026 upstream's come together; see `next`). The round
 * closes once `GATHER_QUIET_MS` pass without a new request (at most `GATHER_MAX_MS`): a fixed 5 ms wait
 * cost every bridged round 5-6 ms in bench:gateway. A 1 ms window was too short on a loaded machine
 * (the third of three concurrent requests came later): 3 ms, extended by every new request.
 */
const GATHER_QUIET_MS = 3;
const GATHER_MAX_MS = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function invalidState(reason: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, INVALID_STATE, { reason });
}

/** One upstream call kept open across a stateless client's rounds. */
export class HeldCall<T> {
  readonly id = randomUUID();
  readonly owner: string;
  round = 0;
  /** Relays upstream progress to the client's current round, if it asked for progress. */
  onprogress: ((progress: Record<string, unknown>) => void) | undefined;
  /** Relays upstream log messages to the client's current round, at the level it asked for. */
  onlog: ((message: Record<string, unknown>) => void) | undefined;
  readonly #controller = new AbortController();
  readonly #pending = new Map<string, PendingInput>();
  readonly #settled: Promise<{ ok: true; value: T } | { ok: false; error: unknown }>;
  /** The upstream call's outcome once it settled. */
  #outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  #wake: (() => void) | undefined;
  #nextKey = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The final outcome went to the client: a later retry with this call's state is a replay. */
  delivered = false;
  /**
   * What the upstream asked for that the client did not declare (Ziggie refused it upstream), by
   * capability: a call that then fails is the client's missing capability (`-32021`).
   */
  readonly refusals = new Set<string>();

  constructor(owner: string, run: (call: HeldCall<T>, signal: AbortSignal) => Promise<T>) {
    this.owner = owner;
    this.#settled = run(this, this.#controller.signal).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    void this.#settled.then((outcome) => {
      this.#outcome = outcome;
      this.#wake?.();
    });
  }

  /**
   * The upstream asks the client for something: resolves with the client's answer on a later round.
   * `name` is the key a 2026 upstream gave the request in its own `input_required`; the client sees
   * that key when it is free, a key Ziggie makes up otherwise (2025 upstreams name nothing).
   */
  ask(
    method: UpstreamClientRequestMethod,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    name?: string,
  ): Promise<Record<string, unknown>> {
    let key = name && !this.#pending.has(name) ? name : undefined;
    while (key === undefined || this.#pending.has(key)) key = `${method.split('/')[0]}-${++this.#nextKey}`;
    return new Promise((resolve, reject) => {
      const settle = () => {
        this.#pending.delete(key);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        settle();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(key, {
        method,
        ...(params ? { params } : {}),
        issued: false,
        named: name !== undefined,
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      this.#wake?.();
    });
  }

  /** Hands the client's answers to the waiting upstream requests of the round the state names. */
  answer(round: number, responses: Record<string, unknown>): void {
    if (round !== this.round) throw invalidState('replayed');
    const issued = [...this.#pending].filter(([, p]) => p.issued);
    const unknown = Object.keys(responses).filter((key) => !this.#pending.get(key)?.issued);
    if (unknown.length > 0) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `inputResponses answer requests that were never made: ${unknown.join(', ')}`,
        { reason: 'unknown_input_response', keys: unknown },
      );
    }
    const missing = issued.filter(([key]) => !(key in responses)).map(([key]) => key);
    if (missing.length > 0) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `inputResponses lack answers for: ${missing.join(', ')}`,
        { reason: 'missing_input_response', keys: missing },
      );
    }
    for (const [key, pending] of issued) pending.resolve(responses[key] as Record<string, unknown>);
  }

  /**
   * Waits until the upstream call finished (its result) or asked the client for input (the new
   * requests, issued under a new round). A caller's abort cancels the upstream call.
   */
  async next(signal: AbortSignal): Promise<HeldOutcome<T>> {
    const onAbort = () => this.cancel(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const fresh = [...this.#pending].filter(([, p]) => !p.issued);
        const woken = new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        const done = await Promise.race([
          this.#settled,
          fresh.length > 0 ? Promise.resolve(null) : woken.then(() => null),
        ]);
        if (done) return HeldCall.#finished(done);
        if ([...this.#pending.values()].every((p) => p.issued || p.named)) {
          // A 2026 upstream's input_required: its requests are all handed over in one go (the SDK
          // client dispatches them together), so they are all here after one event-loop turn.
          await new Promise((resolve) => setImmediate(resolve));
        } else {
          const gatherUntil = performance.now() + GATHER_MAX_MS;
          let asked = this.#pending.size;
          for (;;) {
            await Promise.race([this.#settled, sleep(GATHER_QUIET_MS)]);
            if (this.#outcome || this.#pending.size === asked || performance.now() >= gatherUntil) break;
            asked = this.#pending.size;
          }
        }
        // The call may have ended meanwhile (say, the upstream gave up when a request was refused).
        if (this.#outcome) return HeldCall.#finished(this.#outcome);
        const now = [...this.#pending].filter(([, p]) => !p.issued);
        if (now.length === 0) continue;
        this.round++;
        const requests: Record<string, InputRequestWire> = {};
        for (const [key, pending] of now) {
          pending.issued = true;
          requests[key] = { method: pending.method, ...(pending.params ? { params: pending.params } : {}) };
        }
        return { done: false, requests };
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#wake = undefined;
    }
  }

  static #finished<R>(outcome: { ok: true; value: R } | { ok: false; error: unknown }): HeldOutcome<R> {
    if (outcome.ok) return { done: true, result: outcome.value };
    throw outcome.error;
  }

  /** Cancels the upstream call (its signal aborts, so the SDK sends `notifications/cancelled`). */
  cancel(reason?: unknown): void {
    this.#controller.abort(reason ?? new Error('held call cancelled'));
    for (const pending of this.#pending.values()) pending.reject(this.#controller.signal.reason);
  }

  /** Whether the upstream call has ended (its outcome waits for the client's next round, if it has not had it). */
  get ended(): boolean {
    return this.#outcome !== undefined;
  }

  /** Resolves once the upstream call has settled, whatever the outcome. */
  settled(): Promise<void> {
    return this.#settled.then(() => {});
  }

  /** (Re)starts the expiry clock: called whenever the call goes back to waiting for the client. */
  expireAfter(ms: number, onExpire: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(onExpire, ms);
    this.#timer.unref();
  }

  stopClock(): void {
    clearTimeout(this.#timer);
  }
}

/** The held calls of this gateway, bounded per identity and expired after `ttlMs`. */
export class HeldCallRegistry {
  readonly #calls = new Map<string, HeldCall<unknown>>();
  readonly #limits: HeldCallLimits;

  constructor(limits: HeldCallLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#calls.size;
  }

  get limits(): HeldCallLimits {
    return this.#limits;
  }

  /** Starts a call that may be held; refused when `owner` already holds the maximum. */
  start<T>(owner: string, run: (call: HeldCall<T>, signal: AbortSignal) => Promise<T>): HeldCall<T> {
    let held = 0;
    for (const call of this.#calls.values()) if (call.owner === owner && !call.ended) held++;
    if (held >= this.#limits.maxPerIdentity) {
      throw new ZiggieError(
        'HELD_CALLS_EXCEEDED',
        `too many calls waiting for input (${held}, at most ${this.#limits.maxPerIdentity}); answer or abandon one first`,
        { limit: this.#limits.maxPerIdentity },
      );
    }
    // A call stays here after its upstream call ended until its outcome reached the client
    // (`finish`): an upstream that finishes, or fails, between two rounds still has its outcome
    // delivered on the client's next round. The expiry clock bounds how long it waits for one.
    const call = new HeldCall<T>(owner, run);
    this.#calls.set(call.id, call as HeldCall<unknown>);
    return call;
  }

  /** The held call a verified state names, if it is still held for this owner. */
  resume<T>(state: HeldState, owner: string): HeldCall<T> {
    const call = this.#calls.get(state.h);
    if (!call || call.owner !== owner) throw invalidState('unknown_call');
    if (call.delivered) throw invalidState('replayed');
    return call as HeldCall<T>;
  }

  /** The call's final outcome went to the client: it is no longer held. */
  finish(call: HeldCall<unknown>): void {
    call.delivered = true;
    this.#forget(call);
  }

  /** The call goes back to waiting for the client: expire it (and cancel upstream) after the TTL. */
  park(call: HeldCall<unknown>): void {
    call.expireAfter(this.#limits.ttlMs, () => {
      call.cancel(new Error(`no retry within ${this.#limits.ttlMs} ms`));
      this.#forget(call);
    });
  }

  cancelAll(): void {
    for (const call of this.#calls.values()) call.cancel(new Error('gateway stopping'));
    this.#calls.clear();
  }

  #forget(call: HeldCall<unknown>): void {
    call.stopClock();
    if (this.#calls.get(call.id) === call) this.#calls.delete(call.id);
  }
}
