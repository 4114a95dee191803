import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { FieldCipher } from '../storage/field-cipher.ts';
import type { Tables } from '../storage/schema.ts';
import { DecryptionError, openAesGcm, sealAesGcm } from './dangerous/aes-gcm.ts';

/** What an entry shows where a person's data was, once their key is gone. */
export const ERASED = 'erased' as const;

/**
 * Per-person keys (crypto-shredding): personal data that must live inside
 * immutable records (ledger entries) is sealed under a random key of its
 * own subject, itself kept FieldCipher-wrapped. Erasing the person deletes
 * that key; every sealed value of theirs becomes unreadable while the
 * records, and any hash over them, stay exactly as they were.
 */
export class SubjectKeys {
  readonly #fields: FieldCipher;

  constructor(fields: FieldCipher) {
    this.#fields = fields;
  }

  /** Seals for a subject inside the caller's transaction; null once the subject was erased. */
  async seal(
    db: Kysely<Tables>,
    subject: string,
    value: unknown,
    aad: string,
    now: Date,
  ): Promise<string | null> {
    const key = await this.#keyOf(db, subject, now);
    if (key === null) return null;
    try {
      const plain = new TextEncoder().encode(JSON.stringify(value));
      return sealAesGcm(key, plain, new TextEncoder().encode(aad)).toString('base64url');
    } finally {
      key.fill(0);
    }
  }

  /** The sealed value, or ERASED when the subject's key is gone (or the value does not open). */
  async open(db: Kysely<Tables>, subject: string, sealed: string, aad: string): Promise<unknown> {
    const row = await db
      .selectFrom('subject_keys')
      .select('key_enc')
      .where('subject_id', '=', subject)
      .executeTakeFirst();
    if (!row?.key_enc) return ERASED;
    const key = this.#unwrap(subject, row.key_enc);
    try {
      const plain = openAesGcm(
        key,
        Buffer.from(sealed, 'base64url'),
        new TextEncoder().encode(aad),
      );
      return JSON.parse(plain.toString('utf8')) as unknown;
    } catch (err) {
      if (err instanceof DecryptionError) return ERASED;
      throw err;
    } finally {
      key.fill(0);
    }
  }

  /** Deletes the subject's key for good (and refuses to make a new one later). */
  async erase(db: Kysely<Tables>, subject: string, now: Date): Promise<void> {
    const at = now.toISOString();
    const updated = await db
      .updateTable('subject_keys')
      .set({ key_enc: null, erased_at: at })
      .where('subject_id', '=', subject)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      await db
        .insertInto('subject_keys')
        .values({ subject_id: subject, key_enc: null, created_at: at, erased_at: at })
        .execute();
    }
  }

  async #keyOf(db: Kysely<Tables>, subject: string, now: Date): Promise<Buffer | null> {
    const row = await db
      .selectFrom('subject_keys')
      .select(['key_enc', 'erased_at'])
      .where('subject_id', '=', subject)
      .executeTakeFirst();
    if (row)
      return row.erased_at !== null || !row.key_enc ? null : this.#unwrap(subject, row.key_enc);
    const key = randomBytes(32);
    await db
      .insertInto('subject_keys')
      .values({
        subject_id: subject,
        key_enc: this.#fields.encrypt(
          { table: 'subject_keys', column: 'key', rowId: subject },
          key.toString('base64url'),
        ),
        created_at: now.toISOString(),
        erased_at: null,
      })
      .execute();
    return key;
  }

  #unwrap(subject: string, wrapped: string): Buffer {
    return Buffer.from(
      this.#fields.decrypt({ table: 'subject_keys', column: 'key', rowId: subject }, wrapped),
      'base64url',
    );
  }
}
