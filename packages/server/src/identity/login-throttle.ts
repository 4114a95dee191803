import { BulwarkError } from '../errors.ts';
import { FailureBackoff } from '../keys/backoff.ts';

/**
 * Brute-force back-off per account and per source address (SECURITY.md):
 * a guess is refused while either is waiting. The same refusal is given for
 * unknown accounts (keyed by the name tried), so the throttle does not tell
 * which accounts exist. In memory per node: a multi-node deployment bounds
 * guessing per node, which the scale-out issue moves to the shared store.
 */
export class LoginThrottle {
  readonly #accounts: FailureBackoff;
  readonly #sources: FailureBackoff;

  constructor(opts: { now?: () => number } = {}) {
    const now = opts.now ? { now: opts.now } : {};
    this.#accounts = new FailureBackoff({ free: 5, baseMs: 1000, capMs: 15 * 60_000, ...now });
    // A source may try several accounts (a shared office address): more room.
    this.#sources = new FailureBackoff({ free: 20, baseMs: 1000, capMs: 15 * 60_000, ...now });
  }

  check(account: string, source: string): void {
    const wait = Math.max(
      this.#accounts.waitFor(accountKey(account)),
      this.#sources.waitFor(source),
    );
    if (wait > 0) {
      throw new BulwarkError(
        'rate_limited',
        `Too many failed attempts; try again in ${Math.ceil(wait / 1000)} s.`,
      );
    }
  }

  failure(account: string, source: string): void {
    this.#accounts.recordFailure(accountKey(account));
    this.#sources.recordFailure(source);
  }

  success(account: string, source: string): void {
    this.#accounts.forget(accountKey(account));
    this.#sources.forget(source);
  }
}

function accountKey(account: string): string {
  return account.trim().normalize('NFKC').toLowerCase();
}
