/**
 * Where SMS codes leave the server: an adapter (CONVENTIONS.md §5) so tests
 * swap the network, never the logic. SMS is an insecure factor (SIM swap,
 * SS7 interception) — off by default, and labelled so wherever it appears.
 */
export interface SmsProvider {
  /** For logs and the admin UI, e.g. "http-gateway". */
  readonly name: string;
  /** Delivers `text` to `to` (E.164), or throws. Implementations never put the text, the number or a credential in an error. */
  send(to: string, text: string): Promise<void>;
}

/** The provider could not deliver. The message names what went wrong (status, timeout), never the text, number or credentials. */
export class SmsDeliveryError extends Error {
  override name = 'SmsDeliveryError';
  /** The gateway's HTTP status, when it answered. */
  readonly status: number | null;

  constructor(message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status ?? null;
  }
}

/** Shown with every SMS code and enrolment (SECURITY.md: labelled insecure in every UI). */
export const SMS_INSECURE_WARNING =
  'SMS codes are not secure: they can be intercepted or redirected (SIM swap). Prefer a passkey or an authenticator app.';

/** E.164: "+", a country code not starting with 0, at most 15 digits in all. */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
