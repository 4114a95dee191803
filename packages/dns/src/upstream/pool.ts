/**
 * Several upstreams behind one `exchange`: the fastest healthy one first,
 * the next on failure or timeout, with health tracked per upstream and
 * unhealthy ones probed until they answer again.
 */
import { randomInt } from 'node:crypto';
import { encode, RECURSION_DESIRED } from 'dns-packet';
import type { Upstream } from './upstream.ts';
import { checkQuery, RCODE_REFUSED, RCODE_SERVFAIL, rcodeOf, responseMismatch } from './wire.ts';

export interface PoolLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
}

export interface UpstreamPoolOptions {
  upstreams: Upstream[];
  /** Bound on one upstream's attempt; the whole call is bounded by twice this. */
  timeoutMs?: number;
  /** How often unhealthy upstreams are probed (after `start()`). */
  healthIntervalMs?: number;
  /** The name the health probe asks NS for. */
  probeName?: string;
  /** Monotonic milliseconds, for latency and deadlines. */
  now?: () => number;
  logger?: PoolLogger;
}

export interface UpstreamStatus {
  id: string;
  healthy: boolean;
  consecutiveFailures: number;
  /** Smoothed (EWMA) answer time, null before the first answer. */
  latencyMs: number | null;
  lastError: string | null;
}

export interface Attempt {
  upstream: string;
  error: string;
}

/** Every upstream failed (or none could be asked) for one query. */
export class UpstreamError extends Error {
  readonly code = 'upstream_failed';
  readonly attempts: readonly Attempt[];
  constructor(message: string, attempts: readonly Attempt[]) {
    super(message);
    this.name = 'UpstreamError';
    this.attempts = attempts;
  }
}

/** After this many failures in a row an upstream goes to the back of the line and is probed. */
const UNHEALTHY_AFTER = 3;
/** Weight of the newest sample in the latency average. */
const EWMA_ALPHA = 0.3;

interface Member {
  upstream: Upstream;
  /** Position in the configuration, the tie-break between equals. */
  rank: number;
  healthy: boolean;
  consecutiveFailures: number;
  latencyMs: number | null;
  lastError: string | null;
  probing: boolean;
}

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export class UpstreamPool {
  readonly #members: Member[];
  readonly #timeoutMs: number;
  readonly #healthIntervalMs: number;
  readonly #probeName: string;
  readonly #now: () => number;
  readonly #logger: PoolLogger | undefined;
  /** Attempts in flight, aborted by close(). */
  readonly #inFlight = new Set<AbortController>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: UpstreamPoolOptions) {
    if (options.upstreams.length === 0)
      throw new Error('an upstream pool needs at least one upstream');
    this.#members = options.upstreams.map((upstream, rank) => ({
      upstream,
      rank,
      healthy: true,
      consecutiveFailures: 0,
      latencyMs: null,
      lastError: null,
      probing: false,
    }));
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#healthIntervalMs = options.healthIntervalMs ?? 15_000;
    this.#probeName = options.probeName ?? '.';
    this.#now = options.now ?? (() => performance.now());
    this.#logger = options.logger;
  }

  /**
   * Asks the upstreams in order until one answers: healthy before unhealthy
   * (those are still tried when nothing else works), then by latency. A
   * SERVFAIL or REFUSED answer counts as a failure, so the next one is asked.
   */
  async exchange(query: Uint8Array): Promise<{ response: Uint8Array; upstream: string }> {
    try {
      checkQuery(query);
    } catch (error) {
      // The query's fault, not the upstreams': nobody is asked or blamed.
      throw new UpstreamError(`query not forwarded: ${(error as Error).message}`, []);
    }
    const attempts: Attempt[] = [];
    const deadline = this.#now() + 2 * this.#timeoutMs;
    for (const member of this.#ordered()) {
      const left = deadline - this.#now();
      // A sliver of time left (timers fire a little late) buys no real attempt.
      if (this.#closed || left < this.#timeoutMs / 10) break;
      try {
        const response = await this.#ask(member, query, Math.min(this.#timeoutMs, left));
        return { response, upstream: member.upstream.id };
      } catch (error) {
        attempts.push({ upstream: member.upstream.id, error: (error as Error).message });
      }
    }
    const why = this.#closed ? 'upstream pool closed' : 'every upstream failed';
    throw new UpstreamError(
      attempts.length === 0
        ? `${why}`
        : `${why}: ${attempts.map((a) => `${a.upstream}: ${a.error}`).join('; ')}`,
      attempts,
    );
  }

  status(): UpstreamStatus[] {
    return this.#members.map((m) => ({
      id: m.upstream.id,
      healthy: m.healthy,
      consecutiveFailures: m.consecutiveFailures,
      latencyMs: m.latencyMs === null ? null : Math.round(m.latencyMs * 10) / 10,
      lastError: m.lastError,
    }));
  }

  /** Starts the periodic health probes of unhealthy upstreams (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => this.#probeUnhealthy(), this.#healthIntervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const controller of this.#inFlight) controller.abort(new Error('upstream pool closed'));
    await Promise.allSettled(this.#members.map((m) => m.upstream.close()));
  }

  #ordered(): Member[] {
    // Unknown latency sorts as 0 so each upstream gets asked once and measured.
    return [...this.#members].sort(
      (a, b) =>
        Number(b.healthy) - Number(a.healthy) ||
        (a.latencyMs ?? 0) - (b.latencyMs ?? 0) ||
        a.rank - b.rank,
    );
  }

  /** One attempt at one upstream, bounded by `timeoutMs`, with the outcome recorded. */
  async #ask(member: Member, query: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const started = this.#now();
    try {
      const response = await this.#bounded(member.upstream, query, timeoutMs);
      // The transports check this already; checked again so that no
      // Upstream implementation can hand the cache an answer to another question.
      const mismatch = responseMismatch(query, response);
      if (mismatch !== null) throw new Error(mismatch);
      const rcode = rcodeOf(response);
      if (rcode === RCODE_SERVFAIL || rcode === RCODE_REFUSED) {
        throw new Error(`answered ${rcode === RCODE_SERVFAIL ? 'SERVFAIL' : 'REFUSED'}`);
      }
      this.#succeeded(member, this.#now() - started);
      return response;
    } catch (error) {
      const timedOut = error instanceof AttemptTimeout;
      // An attempt squeezed by the call's deadline had less than the full
      // time: its timeout says nothing about the upstream's health.
      if (!timedOut || timeoutMs >= this.#timeoutMs) {
        this.#failed(member, error as Error, timedOut ? timeoutMs : null);
      }
      throw error;
    }
  }

  /**
   * `upstream.exchange`, but settled by the timer even if the upstream
   * ignores its abort signal: one that hangs forever must not hang us.
   */
  #bounded(upstream: Upstream, query: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const controller = new AbortController();
    this.#inFlight.add(controller);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new AttemptTimeout(timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    const answer = Promise.resolve().then(() => upstream.exchange(query, controller.signal));
    // Whichever loses the race below may still reject later: keep that handled.
    answer.catch(() => {});
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
        once: true,
      });
    });
    aborted.catch(() => {});
    return Promise.race([answer, timeout, aborted]).finally(() => {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    });
  }

  #succeeded(member: Member, ms: number): void {
    this.#sample(member, ms);
    member.consecutiveFailures = 0;
    member.lastError = null;
    if (!member.healthy) {
      member.healthy = true;
      this.#logger?.info({ upstream: member.upstream.id }, 'DNS upstream answers again');
    }
  }

  /** A timeout also counts as a slow answer, so a sluggish upstream sinks in the order. */
  #failed(member: Member, error: Error, timeoutMs: number | null): void {
    if (this.#closed) return;
    if (timeoutMs !== null) this.#sample(member, timeoutMs);
    member.consecutiveFailures += 1;
    member.lastError = error.message;
    if (member.healthy && member.consecutiveFailures >= UNHEALTHY_AFTER) {
      member.healthy = false;
      this.#logger?.warn(
        {
          upstream: member.upstream.id,
          failures: member.consecutiveFailures,
          error: error.message,
        },
        'DNS upstream marked unhealthy',
      );
    }
  }

  #sample(member: Member, ms: number): void {
    member.latencyMs =
      member.latencyMs === null ? ms : member.latencyMs + EWMA_ALPHA * (ms - member.latencyMs);
  }

  #probeUnhealthy(): void {
    for (const member of this.#members) {
      if (member.healthy || member.probing || this.#closed) continue;
      member.probing = true;
      // Success or failure is recorded by #ask; the probe itself has nothing to report.
      this.#ask(member, this.#probeQuery(), this.#timeoutMs)
        .catch(() => {})
        .finally(() => {
          member.probing = false;
        });
    }
  }

  /** `NS <probeName>` with recursion desired: the cheapest question every resolver answers. */
  #probeQuery(): Uint8Array {
    return encode({
      type: 'query',
      id: randomInt(0x10000),
      flags: RECURSION_DESIRED,
      questions: [{ type: 'NS', name: this.#probeName }],
    });
  }
}
