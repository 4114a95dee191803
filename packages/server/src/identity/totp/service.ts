import { timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { BulwarkError } from '../../errors.ts';
import type { FieldContext } from '../../storage/field-cipher.ts';
import type { Storage } from '../../storage/storage.ts';
import type { Clock } from '../secret-hasher.ts';
import { TotpStore } from './store.ts';

/**
 * The parameters every authenticator app understands (many ignore anything
 * else in the URI and silently fall back to these): HMAC-SHA-1, 6 digits,
 * 30-second steps (RFC 6238 §4, §5.2), and a 160-bit seed (RFC 4226 §4 R6).
 */
const ALGORITHM = 'SHA1';
const DIGITS = 6;
const PERIOD_SECONDS = 30;
const SECRET_BYTES = 20;
/** One step either side for clock drift and typing time (RFC 6238 §5.2), no more. */
const WINDOW = 1;

const CODE = /^[0-9]{6}$/;
const WRONG_CODE =
  'That code is not right. Check that the clock on your device is correct and enter the current code.';

export interface TotpEnrolment {
  /** `otpauth://totp/…` key URI, holding the secret: show it once, never log it. */
  uri: string;
  qrSvg: string;
  secretBase32: string;
}

export class TotpService {
  readonly #storage: Storage;
  readonly #store: TotpStore;
  readonly #clock: Clock;
  readonly #issuer: string;
  /** Checked against when a user has no confirmed secret, so that case costs the same work. */
  readonly #decoy = new Secret({ size: SECRET_BYTES });

  constructor(deps: { storage: Storage; clock: Clock; issuer: string }) {
    this.#storage = deps.storage;
    this.#store = new TotpStore(deps.storage);
    this.#clock = deps.clock;
    this.#issuer = deps.issuer;
  }

  /**
   * Starts (or restarts) enrolment with a new random seed, stored encrypted
   * and unconfirmed until the user proves their app holds it. A confirmed
   * secret is never replaced here: swapping a second factor must go through
   * remove(), which the route guards with a step-up.
   */
  async beginEnrolment(userId: string, accountLabel: string): Promise<TotpEnrolment> {
    const secret = new Secret({ size: SECRET_BYTES });
    const stored = this.#storage.fields.encrypt(context(userId), secret.base32);
    if (!(await this.#store.putUnconfirmed(userId, stored, this.#clock.now().toISOString()))) {
      throw new BulwarkError('bad_request', 'TOTP is already set up; remove it first.');
    }
    const uri = new TOTP({
      issuer: this.#issuer,
      label: accountLabel,
      secret,
      algorithm: ALGORITHM,
      digits: DIGITS,
      period: PERIOD_SECONDS,
    }).toString();
    return { uri, qrSvg: await QRCode.toString(uri, { type: 'svg' }), secretBase32: secret.base32 };
  }

  /** Confirms the pending secret with a current code from the user's app. */
  async confirmEnrolment(userId: string, code: string): Promise<void> {
    const row = await this.#store.find(userId);
    if (!row) throw new BulwarkError('not_found', 'No TOTP enrolment is in progress; start again.');
    if (row.confirmed) throw new BulwarkError('bad_request', 'TOTP is already set up.');
    const secret = Secret.fromBase32(this.#storage.fields.decrypt(context(userId), row.secretEnc));
    const step = CODE.test(code) ? this.#matchingStep(secret, code) : null;
    if (step === null) throw new BulwarkError('bad_request', WRONG_CODE);
    const now = this.#clock.now().toISOString();
    if (!(await this.#store.confirm(userId, row.secretEnc, step, now))) {
      throw new BulwarkError('bad_request', 'The enrolment changed meanwhile; start again.');
    }
  }

  /**
   * True when `code` is right for the user's confirmed secret and its time
   * step is newer than any accepted before. Each step is accepted once
   * (RFC 6238 §5.2), so a code seen over a shoulder or phished in real time
   * cannot be used a second time, not even concurrently.
   */
  async verify(userId: string, code: string): Promise<boolean> {
    if (!CODE.test(code)) return false;
    const row = await this.#store.find(userId);
    const usable = row?.confirmed === true;
    // Unknown user, unconfirmed secret, wrong code: the same HMACs are
    // computed, so the answer's timing does not tell them apart.
    const secret =
      row && usable
        ? Secret.fromBase32(this.#storage.fields.decrypt(context(userId), row.secretEnc))
        : this.#decoy;
    const step = this.#matchingStep(secret, code);
    if (!usable || step === null) return false;
    return this.#store.claimStep(userId, step);
  }

  async isEnrolled(userId: string): Promise<boolean> {
    return (await this.#store.find(userId))?.confirmed === true;
  }

  /** Removes the secret, confirmed or pending; false when there was none. */
  async remove(userId: string): Promise<boolean> {
    return this.#store.delete(userId);
  }

  /**
   * The time step within ±WINDOW whose code equals `code`, or null. Every
   * candidate is computed and compared in constant time, with no early exit
   * (otpauth's own validate() returns at the first hit). If two steps give
   * the same code, the latest wins, which burns the earlier ones too.
   */
  #matchingStep(secret: Secret, code: string): number | null {
    const current = TOTP.counter({
      period: PERIOD_SECONDS,
      timestamp: this.#clock.now().getTime(),
    });
    const given = Buffer.from(code, 'utf8');
    let found: number | null = null;
    for (let step = current - WINDOW; step <= current + WINDOW; step++) {
      const expected = HOTP.generate({
        secret,
        algorithm: ALGORITHM,
        digits: DIGITS,
        counter: step,
      });
      if (timingSafeEqual(given, Buffer.from(expected, 'utf8'))) found = step;
    }
    return found;
  }
}

function context(userId: string): FieldContext {
  return { table: 'totp_secrets', column: 'secret', rowId: userId };
}
