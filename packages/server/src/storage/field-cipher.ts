import { createHmac, hkdfSync } from 'node:crypto';
import { BulwarkError } from '../errors.ts';
import { DecryptionError, openAesGcm, sealAesGcm } from '../keys/dangerous/aes-gcm.ts';
import type { PurposeKey } from '../keys/root-key.ts';

/** Where an encrypted value lives. It is bound into the AAD, so a value copied to another row or column fails to open. */
export interface FieldContext {
  table: string;
  column: string;
  rowId: string;
}

const VERSION = 'fe1';

/**
 * Application-level encryption of columns holding content or personal data
 * (ARCHITECTURE.md, storage): AES-256-GCM under a key derived from the root
 * key, and HMAC-SHA256 blind indexes for values that must be looked up by
 * equality. Used on both back ends, so a PostgreSQL dump — and an SQLite file
 * even if its page key leaked — shows only ciphertext.
 */
export class FieldCipher {
  readonly #encKey: Buffer;
  readonly #indexKey: Buffer;
  /** decryptRecent's memo: stored value → plaintext, insertion-ordered for eviction. */
  readonly #recent = new Map<string, string>();
  #wiped = false;

  constructor(fieldKey: PurposeKey, blindIndexKey: PurposeKey) {
    this.#encKey = Buffer.from(fieldKey.bytes());
    this.#indexKey = Buffer.from(blindIndexKey.bytes());
  }

  encrypt(ctx: FieldContext, plaintext: string): string {
    this.#assertLive();
    const sealed = sealAesGcm(this.#encKey, Buffer.from(plaintext, 'utf8'), aad(ctx));
    return `${VERSION}.${sealed.toString('base64url')}`;
  }

  /** Throws (never returns null) when the value was tampered with, moved, or made under another key. */
  decrypt(ctx: FieldContext, stored: string): string {
    this.#assertLive();
    const dot = stored.indexOf('.');
    // Strict alphabet: Buffer's base64url decoder would skip stray characters.
    if (
      dot < 0 ||
      stored.slice(0, dot) !== VERSION ||
      !/^[A-Za-z0-9_-]+$/.test(stored.slice(dot + 1))
    ) {
      throw new BulwarkError(
        'storage_corrupt',
        `${ctx.table}.${ctx.column} holds an unknown field format`,
      );
    }
    try {
      return openAesGcm(
        this.#encKey,
        Buffer.from(stored.slice(dot + 1), 'base64url'),
        aad(ctx),
      ).toString('utf8');
    } catch (err) {
      if (err instanceof DecryptionError) {
        throw new BulwarkError(
          'storage_corrupt',
          `${ctx.table}.${ctx.column} of ${ctx.rowId} failed authentication (tampered or moved)`,
        );
      }
      throw err;
    }
  }

  /**
   * `decrypt`, remembering the last few hundred answers. For small values read
   * on every request (policies): a stored value is unique (random nonce, and
   * its context in the key), so a changed row is a different key and never
   * answered from the memo. Plaintext is held only while the keys are.
   */
  decryptRecent(ctx: FieldContext, stored: string): string {
    this.#assertLive();
    const key = `${ctx.table}\u0000${ctx.column}\u0000${ctx.rowId}\u0000${stored}`;
    const hit = this.#recent.get(key);
    if (hit !== undefined) return hit;
    const plaintext = this.decrypt(ctx, stored);
    if (this.#recent.size >= 512) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
    this.#recent.set(key, plaintext);
    return plaintext;
  }

  encryptNullable(ctx: FieldContext, plaintext: string | null): string | null {
    return plaintext === null ? null : this.encrypt(ctx, plaintext);
  }

  decryptNullable(ctx: FieldContext, stored: string | null): string | null {
    return stored === null ? null : this.decrypt(ctx, stored);
  }

  /**
   * Keyed hash for equality look-ups. One sub-key per index (`table.column`)
   * so equal values in different indexes do not correlate; values are
   * normalised by the caller-chosen `normalise` (e.g. lower-case emails).
   */
  blindIndex(index: string, value: string, normalise: (v: string) => string = (v) => v): string {
    this.#assertLive();
    const subKey = Buffer.from(
      hkdfSync('sha256', this.#indexKey, Buffer.alloc(0), Buffer.from(`blind-index:${index}`), 32),
    );
    try {
      return createHmac('sha256', subKey).update(normalise(value), 'utf8').digest('hex');
    } finally {
      subKey.fill(0);
    }
  }

  wipe(): void {
    this.#wiped = true;
    this.#recent.clear();
    this.#encKey.fill(0);
    this.#indexKey.fill(0);
  }

  /** After wipe the key bytes are zeros — a public key; refuse rather than use it. */
  #assertLive(): void {
    if (this.#wiped) throw new BulwarkError('sealed', 'The field keys were wiped (server sealed).');
  }
}

function aad(ctx: FieldContext): Buffer {
  return Buffer.from(
    JSON.stringify(['bulwark-field', VERSION, ctx.table, ctx.column, ctx.rowId]),
    'utf8',
  );
}
