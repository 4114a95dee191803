import type { Storage } from '../../storage/storage.ts';

/** A user's TOTP secret as stored: the seed is FieldCipher ciphertext, never base32 in the clear. */
export interface TotpRow {
  secretEnc: string;
  confirmed: boolean;
  /** The last RFC 6238 time step accepted, or null before the first use. */
  lastUsedStep: number | null;
}

/** Kysely queries for totp_secrets; the rules live in service.ts. */
export class TotpStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async find(userId: string): Promise<TotpRow | null> {
    const row = await this.#storage.db
      .selectFrom('totp_secrets')
      .select(['secret_enc', 'confirmed_at', 'last_used_step'])
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) return null;
    return {
      secretEnc: row.secret_enc,
      confirmed: row.confirmed_at !== null,
      // bigint: PostgreSQL answers with a string, SQLite with a number.
      lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step),
    };
  }

  /**
   * Stores a fresh unconfirmed secret, replacing an unconfirmed one, in one
   * statement (no read-then-write race). False when a confirmed secret is
   * there: the upsert's WHERE keeps it untouched.
   */
  async putUnconfirmed(userId: string, secretEnc: string, nowIso: string): Promise<boolean> {
    const result = await this.#storage.db
      .insertInto('totp_secrets')
      .values({ user_id: userId, secret_enc: secretEnc, created_at: nowIso })
      .onConflict((oc) =>
        oc
          .column('user_id')
          .doUpdateSet({ secret_enc: secretEnc, created_at: nowIso, last_used_step: null })
          .where('totp_secrets.confirmed_at', 'is', null),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /**
   * Confirms exactly the secret that was checked (`secretEnc`): if a new
   * enrolment replaced it meanwhile, a code for the old seed must not confirm
   * the new one. Records the step so the confirming code cannot log in again.
   */
  async confirm(userId: string, secretEnc: string, step: number, nowIso: string): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('totp_secrets')
      .set({ confirmed_at: nowIso, last_used_step: step })
      .where('user_id', '=', userId)
      .where('secret_enc', '=', secretEnc)
      .where('confirmed_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Claims a time step for a confirmed secret. The comparison happens in the
   * UPDATE itself, so of two concurrent requests with the same code only one
   * changes the row (RFC 6238 §5.2: a verifier must not accept a second
   * attempt of the same OTP).
   */
  async claimStep(userId: string, step: number): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('totp_secrets')
      .set({ last_used_step: step })
      .where('user_id', '=', userId)
      .where('confirmed_at', 'is not', null)
      .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async delete(userId: string): Promise<boolean> {
    const result = await this.#storage.db
      .deleteFrom('totp_secrets')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
