import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PurposeKey } from '../keys/root-key.ts';

/**
 * Keyed hashes of high-entropy secrets (session tokens, recovery codes,
 * one-time link ids, SMS codes with their challenge): HMAC-SHA256 under the
 * session MAC key, one domain label per kind so a hash of one kind never
 * matches another. A database dump alone cannot test guesses offline.
 * (Low-entropy secrets — passwords — use Argon2id instead.)
 */
export class SecretHasher {
  readonly #key: Buffer;

  constructor(sessionMacKey: PurposeKey) {
    this.#key = Buffer.from(sessionMacKey.bytes());
  }

  hash(kind: string, secret: string): string {
    return createHmac('sha256', this.#key).update(`${kind}\u0000${secret}`, 'utf8').digest('hex');
  }

  /** Constant-time comparison of a secret against a stored hash. */
  matches(kind: string, secret: string, storedHash: string): boolean {
    const given = Buffer.from(this.hash(kind, secret), 'hex');
    const stored = Buffer.from(storedHash, 'hex');
    return given.length === stored.length && timingSafeEqual(given, stored);
  }

  wipe(): void {
    this.#key.fill(0);
  }
}

/** A random token: `<prefix>_` + 256 bits, base64url. The prefix makes leaked tokens recognisable to secret scanners. */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** The adapter for time, so tests move the clock rather than the logic. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
