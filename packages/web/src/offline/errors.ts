/**
 * The offline store's errors, each with words a person can act on. Screens
 * switch on the class (and on `reason` for `VaultOpenError`).
 */

/** The store is closed: nothing can be read or written until it is unlocked. */
export class VaultLockedError extends Error {
  constructor() {
    super(
      'The offline copy on this device is locked. Unlock it with your passkey to work offline.',
    );
    this.name = 'VaultLockedError';
  }
}

export type VaultOpenReason =
  /** The secret (passkey PRF output or passphrase) did not unwrap the data key. */
  | 'wrong-secret'
  /** The store exists but this passkey was never given a wrapping of its key. */
  | 'unknown-passkey'
  /** The store exists but no offline passphrase was ever set for it. */
  | 'no-passphrase'
  /** There is no offline copy for this account on this device (and we were told not to create one). */
  | 'no-vault'
  /** A new passphrase is too short to stand up to guessing on a stolen device. */
  | 'weak-passphrase';

const openMessages: Record<VaultOpenReason, string> = {
  'wrong-secret': 'That did not open the offline copy on this device. Check it and try again.',
  'unknown-passkey':
    'This passkey cannot open the offline copy on this device: it was set up with another passkey or a passphrase. Use that one, or start a fresh offline copy.',
  'no-passphrase':
    'No offline passphrase was set for the offline copy on this device. Use your passkey, or start a fresh offline copy.',
  'no-vault': 'There is no offline copy of this account on this device.',
  'weak-passphrase':
    'Choose a longer offline passphrase: at least 12 characters (a few unrelated words work well).',
};

export class VaultOpenError extends Error {
  readonly reason: VaultOpenReason;
  constructor(reason: VaultOpenReason, options?: { cause?: unknown }) {
    super(openMessages[reason], options);
    this.name = 'VaultOpenError';
    this.reason = reason;
  }
}

/**
 * A stored record failed authentication: it was altered, truncated or moved
 * under another key. Never returned as "missing" — that would let an
 * attacker with the profile delete data silently and call it absence.
 */
export class VaultCorruptError extends Error {
  constructor(what: string, options?: { cause?: unknown }) {
    super(
      `The offline copy on this device is damaged (${what} failed its integrity check). Start a fresh offline copy; the server still has your data.`,
      options,
    );
    this.name = 'VaultCorruptError';
  }
}
