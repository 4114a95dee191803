/**
 * Hybrid Logical Clock (Kulkarni, Demirbas et al., "Logical Physical Clocks
 * and Consistent Snapshots in Globally Distributed Databases", 2014).
 *
 * Every Kanban edit is stamped with an HLC timestamp; the merge keeps, per
 * field, the write with the greatest stamp. An HLC stays close to wall-clock
 * time (so "last writer" means what people expect) while still respecting
 * causality: a stamp issued after receiving another is always greater than
 * it, even when the local wall clock is behind or goes backwards.
 *
 * Pure and portable: no Node-only API, so the browser client uses this file
 * unchanged. Wall time is injected.
 */

/** An HLC timestamp. `node` breaks ties between equal (wallMs, counter). */
export interface Hlc {
  /** Milliseconds since the Unix epoch: the largest wall time seen so far. */
  readonly wallMs: number;
  /** Orders events that share `wallMs`. */
  readonly counter: number;
  /** The id of the replica that issued the stamp. */
  readonly node: string;
}

/** 13 decimal digits: up to the year 2286, and far below 2^53. */
export const HLC_MAX_WALL_MS = 9_999_999_999_999;
/** 5 decimal digits. Overflow carries into `wallMs` (see `carry`). */
export const HLC_MAX_COUNTER = 99_999;
export const HLC_NODE_MAX_LENGTH = 64;
/** `wallMs` (13) + `-` + `counter` (5) + `-` + node id. */
export const HLC_MAX_LENGTH = 13 + 1 + 5 + 1 + HLC_NODE_MAX_LENGTH;
/** How far ahead of our wall clock a remote stamp may be before we refuse it. */
export const DEFAULT_MAX_DRIFT_MS = 60_000;

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
// Fixed widths are what make plain string comparison equal causal order; the
// node id may itself contain '-', which is fine because the first two fields
// have a fixed length.
const CANONICAL = /^(\d{13})-(\d{5})-([A-Za-z0-9_-]{1,64})$/;

export type HlcErrorCode =
  /** Text or fields that are not a valid timestamp. */
  | 'malformed'
  /** The injected wall clock returned something unusable. */
  | 'bad-wall-clock'
  /** A remote stamp too far ahead of our wall clock (see ClockDriftError). */
  | 'too-far-in-future';

export class HlcError extends Error {
  override name = 'HlcError';
  readonly code: HlcErrorCode;

  constructor(code: HlcErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A remote timestamp was refused because it is further ahead of our wall
 * clock than allowed. Accepting it would drag our clock (and every later
 * stamp of ours) into the future, and would let a client with a broken or
 * malicious clock win every conflict until real time caught up.
 */
export class ClockDriftError extends HlcError {
  override name = 'ClockDriftError';
  readonly remote: Hlc;
  readonly localWallMs: number;
  readonly maxDriftMs: number;

  constructor(remote: Hlc, localWallMs: number, maxDriftMs: number) {
    super(
      'too-far-in-future',
      `remote timestamp ${formatHlc(remote)} is ${remote.wallMs - localWallMs} ms ahead of ` +
        `the local clock (at most ${maxDriftMs} ms allowed)`,
    );
    this.remote = remote;
    this.localWallMs = localWallMs;
    this.maxDriftMs = maxDriftMs;
  }

  get driftMs(): number {
    return this.remote.wallMs - this.localWallMs;
  }
}

export function isValidNodeId(node: unknown): node is string {
  return typeof node === 'string' && NODE_ID.test(node);
}

function isIntegerIn(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}

/** A validated, frozen timestamp. Throws HlcError('malformed'). */
export function createHlc(wallMs: number, counter: number, node: string): Hlc {
  if (!isIntegerIn(wallMs, HLC_MAX_WALL_MS)) {
    throw new HlcError('malformed', `HLC wallMs must be an integer in 0..${HLC_MAX_WALL_MS}`);
  }
  if (!isIntegerIn(counter, HLC_MAX_COUNTER)) {
    throw new HlcError('malformed', `HLC counter must be an integer in 0..${HLC_MAX_COUNTER}`);
  }
  if (!isValidNodeId(node)) {
    throw new HlcError(
      'malformed',
      `HLC node id must match [A-Za-z0-9_-]{1,${HLC_NODE_MAX_LENGTH}}`,
    );
  }
  return Object.freeze({ wallMs, counter, node });
}

/** The canonical form: `0001700000000000-00042-node`; sorts like `compareHlc`. */
export function formatHlc(hlc: Hlc): string {
  // Re-validate: an object literal typed as Hlc may still hold garbage, and a
  // malformed string would silently break the string order everyone relies on.
  const h = createHlc(hlc.wallMs, hlc.counter, hlc.node);
  return `${String(h.wallMs).padStart(13, '0')}-${String(h.counter).padStart(5, '0')}-${h.node}`;
}

/** Parses the canonical form strictly (no padding variants, no whitespace). */
export function parseHlc(text: unknown): Hlc {
  if (typeof text !== 'string') {
    throw new HlcError('malformed', 'HLC timestamp must be a string');
  }
  // Length first: never run a regular expression over unbounded input.
  if (text.length > HLC_MAX_LENGTH) {
    throw new HlcError(
      'malformed',
      `HLC timestamp is ${text.length} characters long (at most ${HLC_MAX_LENGTH})`,
    );
  }
  const match = CANONICAL.exec(text);
  if (match === null) {
    throw new HlcError(
      'malformed',
      `HLC timestamp ${JSON.stringify(text)} is not "<13-digit wallMs>-<5-digit counter>-<node id>"`,
    );
  }
  const [, wall, counter, node] = match as unknown as [string, string, string, string];
  return createHlc(Number(wall), Number(counter), node);
}

/**
 * Total order: wallMs, then counter, then node id by code unit (the same order
 * as comparing the canonical strings, which is what persisted data uses).
 */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

export interface HybridClockOptions {
  /** This replica's id (the server's, or a browser tab's/device's). */
  readonly node: string;
  /** Physical time in ms since the epoch. Defaults to `Date.now`. */
  readonly wallClock?: () => number;
  /**
   * Largest accepted lead of a remote stamp over our wall clock; default
   * 60 s. The server must keep a finite bound. A browser replica only
   * receives what the server accepted, and its own clock may be minutes off:
   * it should either inject a wall clock corrected by the server's time or
   * pass `Infinity` here, or it would refuse the server's legitimate stamps.
   */
  readonly maxDriftMs?: number;
  /**
   * The last stamp this replica issued before a restart (persisted by the
   * caller). Without it a restarted replica whose wall clock went backwards
   * could re-issue stamps it already used.
   */
  readonly last?: Hlc | string;
}

/**
 * One replica's clock. `now()` stamps a local event; `receive()` merges a
 * remote stamp on message receipt. Each returned stamp is strictly greater
 * than every stamp this clock returned or received before.
 */
export class HybridClock {
  readonly node: string;
  readonly maxDriftMs: number;
  readonly #wallClock: () => number;
  // The last issued logical time. Counter -1 means "nothing issued yet", so
  // the first event takes the wall time as is.
  #wallMs: number;
  #counter: number;

  constructor(options: HybridClockOptions) {
    if (!isValidNodeId(options.node)) {
      throw new HlcError('malformed', 'node id must match [A-Za-z0-9_-]{1,64}');
    }
    const maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
    if (Number.isNaN(maxDriftMs) || maxDriftMs < 0) {
      throw new RangeError('maxDriftMs must be a non-negative number of milliseconds');
    }
    this.node = options.node;
    this.maxDriftMs = maxDriftMs;
    this.#wallClock = options.wallClock ?? Date.now;
    if (options.last === undefined) {
      this.#wallMs = 0;
      this.#counter = -1;
    } else {
      const given = options.last;
      const last =
        typeof given === 'string'
          ? parseHlc(given)
          : createHlc(given.wallMs, given.counter, given.node);
      this.#wallMs = last.wallMs;
      this.#counter = last.counter;
    }
  }

  /** Stamps a local event (an edit made on this replica). */
  now(): Hlc {
    const physical = this.#physicalNow();
    if (physical > this.#wallMs) {
      this.#wallMs = physical;
      this.#counter = 0;
    } else {
      // Wall clock stalled or went backwards: keep the logical time, count on.
      this.#counter += 1;
    }
    return this.#issue();
  }

  /**
   * Merges a remote stamp on receipt and returns the stamp of the receive
   * event (greater than both our last stamp and the remote one). Throws
   * ClockDriftError, leaving the clock untouched, if the remote stamp is more
   * than `maxDriftMs` ahead of our wall clock.
   */
  receive(remote: Hlc | string): Hlc {
    const r =
      typeof remote === 'string'
        ? parseHlc(remote)
        : createHlc(remote.wallMs, remote.counter, remote.node);
    const physical = this.#physicalNow();
    if (r.wallMs - physical > this.maxDriftMs) {
      throw new ClockDriftError(r, physical, this.maxDriftMs);
    }
    const previous = this.#wallMs;
    const wallMs = Math.max(previous, r.wallMs, physical);
    // The paper's four cases: whichever of (ours, theirs) holds the winning
    // wall time contributes its counter; physical time alone resets it.
    if (wallMs === previous && wallMs === r.wallMs) {
      this.#counter = Math.max(this.#counter, r.counter) + 1;
    } else if (wallMs === previous) {
      this.#counter += 1;
    } else if (wallMs === r.wallMs) {
      this.#counter = r.counter + 1;
    } else {
      this.#counter = 0;
    }
    this.#wallMs = wallMs;
    return this.#issue();
  }

  /** The last stamp issued, for persisting across restarts (see `last`). */
  last(): Hlc | null {
    return this.#counter < 0 ? null : createHlc(this.#wallMs, this.#counter, this.node);
  }

  #physicalNow(): number {
    const raw = this.#wallClock();
    if (!Number.isFinite(raw) || raw < 0 || raw > HLC_MAX_WALL_MS) {
      throw new HlcError('bad-wall-clock', `wall clock returned ${String(raw)}`);
    }
    // Sub-millisecond clocks (performance.timeOrigin + now()) are fine: the
    // counter already orders events within one millisecond.
    return Math.floor(raw);
  }

  #issue(): Hlc {
    // The counter has 5 digits. Rather than fail a local edit, carry into the
    // wall time, exactly like an odometer: (w + 1, 0) is still greater than
    // every (w, c), so order and monotonicity hold. Reaching it takes 100 000
    // events within one millisecond, and a remote stamp cannot force more
    // than one carry per message.
    if (this.#counter > HLC_MAX_COUNTER) {
      this.#wallMs += 1;
      this.#counter = 0;
    }
    if (this.#wallMs > HLC_MAX_WALL_MS) {
      throw new HlcError('bad-wall-clock', 'HLC wall time exceeds 13 digits');
    }
    return createHlc(this.#wallMs, this.#counter, this.node);
  }
}
