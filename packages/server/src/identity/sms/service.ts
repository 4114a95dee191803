import { randomInt } from 'node:crypto';
import { BulwarkError } from '../../errors.ts';
import type { Storage } from '../../storage/storage.ts';
import { type Clock, newToken, type SecretHasher } from '../secret-hasher.ts';
import {
  E164_PATTERN,
  SMS_INSECURE_WARNING,
  SmsDeliveryError,
  type SmsProvider,
} from './provider.ts';
import { SmsStore } from './store.ts';

export const SMS_CODE_TTL_MS = 5 * 60_000;
/** Guesses per code: with 6 digits, 5 tries succeed by chance 1 in 200,000. */
export const SMS_MAX_ATTEMPTS = 5;
/** Codes a user may request per window: bounds cost (SMS pumping) and guesses per hour. */
export const SMS_MAX_SENDS_PER_WINDOW = 5;
export const SMS_SEND_WINDOW_MS = 15 * 60_000;

export interface SmsCodeServiceOptions {
  storage: Storage;
  hasher: SecretHasher;
  clock: Clock;
  provider: SmsProvider;
}

export interface SmsInsecureLabel {
  insecure: true;
  warning: string;
}

export interface SmsCodeSent extends SmsInsecureLabel {
  challengeId: string;
  expiresAt: string;
}

export interface SmsNumberStatus extends SmsInsecureLabel {
  phone: string;
  confirmed: boolean;
}

const label: SmsInsecureLabel = { insecure: true, warning: SMS_INSECURE_WARNING };

/**
 * One-time codes by SMS: an insecure second factor (SIM swap, SS7
 * interception), off by default; whether a user may use it is the policy's
 * call, not this service's. Every answer carries the insecure label.
 *
 * At rest: the number is FieldCipher-encrypted; a challenge is found by
 * HMAC of its id, and holds HMAC(challengeId, code) encrypted — so neither a
 * database dump nor the field key alone gives the code or lets anyone test
 * the 10^6 candidates offline.
 */
export class SmsCodeService {
  readonly #store: SmsStore;
  readonly #hasher: SecretHasher;
  readonly #clock: Clock;
  readonly #provider: SmsProvider;

  constructor(opts: SmsCodeServiceOptions) {
    this.#store = new SmsStore(opts.storage);
    this.#hasher = opts.hasher;
    this.#clock = opts.clock;
    this.#provider = opts.provider;
  }

  /**
   * Sets the user's number (unconfirmed until `confirmNumber`). Re-enrolling
   * the same confirmed number keeps it confirmed; a new number starts over
   * and invalidates every open code.
   */
  async enrolNumber(userId: string, phone: string): Promise<SmsInsecureLabel> {
    if (!E164_PATTERN.test(phone)) {
      throw new BulwarkError(
        'bad_request',
        'Give the phone number in international E.164 form: "+", country code and number, digits only (e.g. +447700900123).',
      );
    }
    if (!(await this.#store.userExists(userId))) {
      throw new BulwarkError('not_found', 'No such user.');
    }
    const current = await this.#store.getNumber(userId);
    if (current?.phone === phone && current.confirmedAt !== null) return label;
    await this.#store.setNumber(userId, phone, this.#clock.now());
    return label;
  }

  /** Proves the user receives SMS at the enrolled number: a code from `sendCode` confirms it. */
  async confirmNumber(userId: string, challengeId: string, code: string): Promise<boolean> {
    if (!(await this.#store.getNumber(userId))) return false;
    if (!(await this.#consume(userId, challengeId, code))) return false;
    await this.#store.markConfirmed(userId, this.#clock.now());
    return true;
  }

  async getNumber(userId: string): Promise<SmsNumberStatus | null> {
    const number = await this.#store.getNumber(userId);
    return number && { phone: number.phone, confirmed: number.confirmedAt !== null, ...label };
  }

  /** Removes the number and ends its open codes; false when there was none. */
  async removeNumber(userId: string): Promise<boolean> {
    return this.#store.removeNumber(userId, this.#clock.now());
  }

  /**
   * Sends a fresh 6-digit code to the enrolled number; it is valid for 5
   * minutes and replaces any earlier one. `rate_limited` past 5 codes per 15
   * minutes.
   */
  async sendCode(userId: string): Promise<SmsCodeSent> {
    const number = await this.#store.getNumber(userId);
    if (!number) {
      throw new BulwarkError('not_found', 'No phone number is enrolled for SMS codes.');
    }
    const now = this.#clock.now();
    const challengeId = newToken('bwsms');
    const idHash = this.#hasher.hash('challenge', challengeId);
    // randomInt is uniform (rejection sampling), unlike a modulo of random bytes.
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const expiresAt = new Date(now.getTime() + SMS_CODE_TTL_MS);
    const opened = await this.#store.openChallenge({
      idHash,
      userId,
      codeHash: this.#hasher.hash('sms-code', codeMaterial(challengeId, code)),
      now,
      expiresAt,
      windowStart: new Date(now.getTime() - SMS_SEND_WINDOW_MS),
      maxPerWindow: SMS_MAX_SENDS_PER_WINDOW,
    });
    if (!opened) {
      throw new BulwarkError(
        'rate_limited',
        'Too many SMS codes were requested for this account; wait a few minutes and try again.',
      );
    }
    try {
      await this.#provider.send(
        number.phone,
        `${code} is your Bulwark sign-in code. It expires in 5 minutes. Never share it.`,
      );
    } catch (err) {
      await this.#store.expireChallenge(idHash, this.#clock.now());
      // Only our own delivery errors are known to hold no secret; others
      // stay as the cause for the log.
      const why = err instanceof SmsDeliveryError ? ` ${err.message}` : '';
      const failure = new BulwarkError(
        'sms_delivery_failed',
        `The SMS code could not be sent (${this.#provider.name}).${why}`,
      );
      failure.cause = err;
      throw failure;
    }
    return { challengeId, expiresAt: expiresAt.toISOString(), ...label };
  }

  /**
   * True exactly once for the right code of a live challenge of this user,
   * sent to a confirmed number. Each call spends one of the 5 attempts first,
   * whatever it then finds; an expired, used or exhausted challenge is false.
   */
  async verifyCode(userId: string, challengeId: string, code: string): Promise<boolean> {
    const number = await this.#store.getNumber(userId);
    if (!number || number.confirmedAt === null) return false;
    return this.#consume(userId, challengeId, code);
  }

  async #consume(userId: string, challengeId: string, code: string): Promise<boolean> {
    if (challengeId.length === 0 || challengeId.length > 128) return false;
    const idHash = this.#hasher.hash('challenge', challengeId);
    const storedHash = await this.#store.claimAttempt(
      idHash,
      userId,
      this.#clock.now(),
      SMS_MAX_ATTEMPTS,
    );
    if (storedHash === null) return false;
    const digits = code.length <= 32 ? code.replace(/[\s-]/g, '') : '';
    if (!/^\d{6}$/.test(digits)) return false;
    if (!this.#hasher.matches('sms-code', codeMaterial(challengeId, digits), storedHash)) {
      return false;
    }
    return this.#store.markUsed(idHash, this.#clock.now());
  }
}

/** The code is hashed with its challenge id, so the same code in two challenges hashes differently. */
function codeMaterial(challengeId: string, code: string): string {
  return `${challengeId}:${code}`;
}
