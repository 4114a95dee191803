import type { Storage } from '../../storage/storage.ts';

export interface SmsNumber {
  userId: string;
  /** E.164. */
  phone: string;
  confirmedAt: string | null;
  createdAt: string;
}

const KIND = 'sms';

/**
 * sms_numbers (the phone number encrypted per field) and this factor's rows
 * in auth_challenges (kind 'sms', found by keyed hash of the challenge id;
 * data_enc holds the encrypted keyed hash of the code).
 */
export class SmsStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async userExists(userId: string): Promise<boolean> {
    const row = await this.#storage.db
      .selectFrom('users')
      .select('id')
      .where('id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async getNumber(userId: string): Promise<SmsNumber | null> {
    const row = await this.#storage.db
      .selectFrom('sms_numbers')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) return null;
    return {
      userId,
      phone: this.#storage.fields.decrypt(phoneContext(userId), row.phone_enc),
      confirmedAt: row.confirmed_at,
      createdAt: row.created_at,
    };
  }

  /**
   * Sets the number (unconfirmed) and expires every open code of the user,
   * so a code sent to the previous number cannot confirm or sign in with the
   * new one.
   */
  async setNumber(userId: string, phone: string, now: Date): Promise<void> {
    const at = now.toISOString();
    const phoneEnc = this.#storage.fields.encrypt(phoneContext(userId), phone);
    await this.#storage.transaction(async (trx) => {
      await trx
        .insertInto('sms_numbers')
        .values({ user_id: userId, phone_enc: phoneEnc, confirmed_at: null, created_at: at })
        .onConflict((oc) =>
          oc
            .column('user_id')
            .doUpdateSet({ phone_enc: phoneEnc, confirmed_at: null, created_at: at }),
        )
        .execute();
      await trx
        .updateTable('auth_challenges')
        .set({ expires_at: at })
        .where('kind', '=', KIND)
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at)
        .execute();
    });
  }

  async markConfirmed(userId: string, now: Date): Promise<void> {
    await this.#storage.db
      .updateTable('sms_numbers')
      .set({ confirmed_at: now.toISOString() })
      .where('user_id', '=', userId)
      .where('confirmed_at', 'is', null)
      .execute();
  }

  async removeNumber(userId: string, now: Date): Promise<boolean> {
    const at = now.toISOString();
    return this.#storage.transaction(async (trx) => {
      const result = await trx
        .deleteFrom('sms_numbers')
        .where('user_id', '=', userId)
        .executeTakeFirst();
      await trx
        .updateTable('auth_challenges')
        .set({ expires_at: at })
        .where('kind', '=', KIND)
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at)
        .execute();
      return result.numDeletedRows > 0n;
    });
  }

  /**
   * Opens a new code challenge unless the user already had `maxPerWindow`
   * since `windowStart` (each SMS costs money and is a chance to guess).
   * Older open codes are expired: only the latest code is ever live. Expired
   * rows are kept so they still count against the window.
   */
  async openChallenge(c: {
    idHash: string;
    userId: string;
    codeHash: string;
    now: Date;
    expiresAt: Date;
    windowStart: Date;
    maxPerWindow: number;
  }): Promise<boolean> {
    const at = c.now.toISOString();
    const dataEnc = this.#storage.fields.encrypt(challengeContext(c.idHash), c.codeHash);
    return this.#storage.transaction(async (trx) => {
      const recent = await trx
        .selectFrom('auth_challenges')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('kind', '=', KIND)
        .where('user_id', '=', c.userId)
        .where('created_at', '>', c.windowStart.toISOString())
        .executeTakeFirstOrThrow();
      if (Number(recent.n) >= c.maxPerWindow) return false;
      await trx
        .updateTable('auth_challenges')
        .set({ expires_at: at })
        .where('kind', '=', KIND)
        .where('user_id', '=', c.userId)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at)
        .execute();
      await trx
        .insertInto('auth_challenges')
        .values({
          id_hash: c.idHash,
          kind: KIND,
          user_id: c.userId,
          data_enc: dataEnc,
          created_at: at,
          expires_at: c.expiresAt.toISOString(),
          used_at: null,
        })
        .execute();
      return true;
    });
  }

  /** Ends a challenge at once (its SMS could not be sent); it still counts against the window. */
  async expireChallenge(idHash: string, now: Date): Promise<void> {
    await this.#storage.db
      .updateTable('auth_challenges')
      .set({ expires_at: now.toISOString() })
      .where('id_hash', '=', idHash)
      .where('kind', '=', KIND)
      .execute();
  }

  /**
   * Spends one attempt on a live challenge of this user and returns its code
   * hash; null when there is no such challenge, it expired, was used, or its
   * attempts are spent. One atomic UPDATE: concurrent guesses cannot share an
   * attempt, and the count is raised before any comparison is made.
   */
  async claimAttempt(
    idHash: string,
    userId: string,
    now: Date,
    maxAttempts: number,
  ): Promise<string | null> {
    const row = await this.#storage.db
      .updateTable('auth_challenges')
      .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('id_hash', '=', idHash)
      .where('kind', '=', KIND)
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now.toISOString())
      .where('attempts', '<', maxAttempts)
      .returning(['data_enc'])
      .executeTakeFirst();
    if (!row || row.data_enc === null) return null;
    return this.#storage.fields.decrypt(challengeContext(idHash), row.data_enc);
  }

  /** Single use: true for exactly one caller. */
  async markUsed(idHash: string, now: Date): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('auth_challenges')
      .set({ used_at: now.toISOString() })
      .where('id_hash', '=', idHash)
      .where('kind', '=', KIND)
      .where('used_at', 'is', null)
      // Not expired in between (a new number expires open codes at once).
      .where('expires_at', '>', now.toISOString())
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }
}

function phoneContext(userId: string) {
  return { table: 'sms_numbers', column: 'phone', rowId: userId };
}

function challengeContext(idHash: string) {
  return { table: 'auth_challenges', column: 'data', rowId: idHash };
}
