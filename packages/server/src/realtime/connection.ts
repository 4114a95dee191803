import type { Actor } from '../identity/sessions/service.ts';

/**
 * The part of a `ws` WebSocket the hub uses; tests drive the hub with a fake.
 * (Declared here because the `ws` package ships no types of its own.)
 */
export interface LiveSocket {
  readonly readyState: number;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
  send(data: string): void;
  ping(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: unknown, isBinary: boolean) => void): unknown;
  on(event: 'pong' | 'close', listener: () => void): unknown;
}

export const OPEN = 1;

/** At most `limit` hits in any `windowMs` (a fixed window: cheap, good enough against floods). */
export class Budget {
  readonly #limit: number;
  readonly #windowMs: number;
  #start = 0;
  #count = 0;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** false once the window's budget is spent. */
  take(now: number): boolean {
    if (now - this.#start >= this.#windowMs) {
      this.#start = now;
      this.#count = 0;
    }
    this.#count += 1;
    return this.#count <= this.#limit;
  }
}

/** One open socket: who holds it, what it follows, and the work queued for it. */
export class Connection {
  readonly socket: LiveSocket;
  /** The session token it authenticated with, to re-check the session (never logged). */
  readonly token: string;
  readonly source: string;
  actor: Actor;
  sessionCheckedAt: number;
  /** Project id → when the actor's right to read it was last confirmed. */
  readonly subscriptions = new Map<string, number>();
  readonly frames: Budget;
  readonly badFrames: Budget;
  /** Frames are handled and events delivered one at a time, in order. */
  queue: Promise<void> = Promise.resolve();
  queued = 0;
  /** Answered the last ping. */
  alive = true;
  closed = false;

  constructor(opts: {
    socket: LiveSocket;
    token: string;
    source: string;
    actor: Actor;
    now: number;
    frames: Budget;
    badFrames: Budget;
  }) {
    this.socket = opts.socket;
    this.token = opts.token;
    this.source = opts.source;
    this.actor = opts.actor;
    this.sessionCheckedAt = opts.now;
    this.frames = opts.frames;
    this.badFrames = opts.badFrames;
  }
}
