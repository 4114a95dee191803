import { BulwarkError } from '../../errors.ts';
import type { Storage } from '../../storage/storage.ts';
import type { Clock } from '../secret-hasher.ts';
import {
  dummyVerify,
  hashPassword,
  needsRehash,
  type PasswordHashCost,
  passwordHashCost,
  verifyPassword,
} from './hashing.ts';
import { checkPasswordPolicy, PASSWORD_MAX_LENGTH, type PasswordContext } from './policy.ts';
import { PasswordStore } from './store.ts';

export interface PasswordServiceOptions {
  storage: Storage;
  clock: Clock;
  /** The cost new hashes get; older, cheaper hashes are upgraded at login. */
  cost?: PasswordHashCost;
}

/**
 * Passwords, for accounts whose policy still allows them (the caller decides
 * that; this is the mechanism). Argon2id hashes only; the password itself is
 * never stored, logged or put in an error.
 */
export class PasswordService {
  readonly #store: PasswordStore;
  readonly #clock: Clock;
  readonly #cost: PasswordHashCost;

  constructor(opts: PasswordServiceOptions) {
    this.#store = new PasswordStore(opts.storage);
    this.#clock = opts.clock;
    this.#cost = opts.cost ?? passwordHashCost;
  }

  /** Sets or replaces the password; `bad_request` listing every problem when the policy refuses it. */
  async setPassword(
    userId: string,
    password: string,
    context: PasswordContext = {},
  ): Promise<void> {
    const problems = checkPasswordPolicy(password, context);
    if (problems.length > 0) {
      throw new BulwarkError(
        'bad_request',
        `The password was refused: ${problems.map((p) => p.message).join('; ')}.`,
        { problems },
      );
    }
    if (!(await this.#store.userExists(userId))) {
      throw new BulwarkError('not_found', 'No such user.');
    }
    await this.#store.set(userId, await hashPassword(password, this.#cost), this.#clock.now());
  }

  /**
   * True when `password` is the user's password. A user without one (or an
   * unknown id) costs the same Argon2id work and answers false, so timing
   * does not tell which accounts exist or have a password. Per-account and
   * per-source back-off is the login flow's job, not this one's.
   */
  async verify(userId: string, password: string): Promise<boolean> {
    const record = await this.#store.get(userId);
    // Over-long input cannot be a password we accepted (policy.ts); refuse it
    // without normalising megabytes, but after the same work as a real check.
    if (!record || password.length > PASSWORD_MAX_LENGTH * 4) {
      await dummyVerify(this.#cost);
      return false;
    }
    if (!(await verifyPassword(password, record.hash))) return false;
    if (needsRehash(record.hash, this.#cost)) {
      // Only now is the password in hand to recompute with the current cost.
      const upgraded = await hashPassword(password, this.#cost);
      await this.#store.replaceIfUnchanged(userId, record.hash, upgraded, this.#clock.now());
    }
    return true;
  }

  /** Removes the password; false when there was none. */
  async remove(userId: string): Promise<boolean> {
    return this.#store.remove(userId);
  }

  async hasPassword(userId: string): Promise<boolean> {
    return (await this.#store.get(userId)) !== null;
  }
}
