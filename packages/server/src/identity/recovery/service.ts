import { randomBytes, randomUUID } from 'node:crypto';
import type { Storage } from '../../storage/storage.ts';
import type { Clock, SecretHasher } from '../secret-hasher.ts';
import { RecoveryCodeStore } from './store.ts';

const CODE_COUNT = 10;
/** 16 base32 characters = 80 bits: far beyond online guessing, short enough to type. */
const CODE_CHARS = 16;
/** RFC 4648 base32 alphabet, lower-case for readability. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const NORMALISED = /^[a-z2-7]{16}$/;
const HASH_KIND = 'recovery-code';

/**
 * Single-use recovery codes for a user who lost their other factors. Only
 * keyed hashes are stored (SecretHasher), so a database dump yields no
 * usable code and cannot be searched offline without the server's key.
 */
export class RecoveryCodeService {
  readonly #store: RecoveryCodeStore;
  readonly #hasher: SecretHasher;
  readonly #clock: Clock;

  constructor(deps: { storage: Storage; hasher: SecretHasher; clock: Clock }) {
    this.#store = new RecoveryCodeStore(deps.storage);
    this.#hasher = deps.hasher;
    this.#clock = deps.clock;
  }

  /**
   * A new set of codes, shown once as `xxxx-xxxx-xxxx-xxxx`. Every earlier
   * code of the user, used or not, stops working in the same transaction.
   */
  async generate(userId: string): Promise<string[]> {
    const codes = Array.from({ length: CODE_COUNT }, newCode);
    const rows = codes.map((code) => ({
      id: randomUUID(),
      codeHash: this.#hasher.hash(HASH_KIND, code),
    }));
    await this.#store.replaceAll(userId, rows, this.#clock.now().toISOString());
    return codes.map((code) => code.match(/.{4}/g)?.join('-') ?? code);
  }

  /**
   * True once per code: the code must belong to this user (a code of
   * another account is simply not found) and be unused.
   */
  async redeem(userId: string, code: string): Promise<boolean> {
    const normalised = normalise(code);
    if (normalised === null) return false;
    return this.#store.markUsed(
      userId,
      this.#hasher.hash(HASH_KIND, normalised),
      this.#clock.now().toISOString(),
    );
  }

  async remaining(userId: string): Promise<number> {
    return this.#store.countUnused(userId);
  }
}

/** 16 random bytes, 5 bits of each: 256 is a multiple of 32, so every character is uniform. */
function newCode(): string {
  let code = '';
  for (const byte of randomBytes(CODE_CHARS)) code += ALPHABET[byte & 31];
  return code;
}

/** Accepts what people type back: any case, spaces and dashes anywhere. */
function normalise(code: string): string | null {
  const bare = code.replace(/[\s-]/g, '').toLowerCase();
  return NORMALISED.test(bare) ? bare : null;
}
