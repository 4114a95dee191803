import type { Storage } from '../../storage/storage.ts';

/** Kysely queries for recovery_codes; the rules live in service.ts. */
export class RecoveryCodeStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /**
   * Replaces all of a user's codes, used or not, with `rows`, in one
   * transaction: when the new set exists the old one is gone.
   */
  async replaceAll(
    userId: string,
    rows: { id: string; codeHash: string }[],
    nowIso: string,
  ): Promise<void> {
    await this.#storage.transaction(async (trx) => {
      if (this.#storage.backend === 'postgres') {
        // Two concurrent regenerations under READ COMMITTED would each miss
        // the other's fresh rows in their DELETE and leave both sets valid.
        // Locking the user row serialises them. NO KEY UPDATE, so inserts
        // elsewhere that reference this user (FOR KEY SHARE) are not held
        // up. SQLite already runs one write transaction at a time.
        await trx
          .selectFrom('users')
          .select('id')
          .where('id', '=', userId)
          .forNoKeyUpdate()
          .execute();
      }
      await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      await trx
        .insertInto('recovery_codes')
        .values(
          rows.map((r) => ({
            id: r.id,
            user_id: userId,
            code_hash: r.codeHash,
            created_at: nowIso,
          })),
        )
        .execute();
    });
  }

  /**
   * Marks an unused code of this user used. Look-up and claim are one
   * UPDATE, so of two concurrent redemptions only one changes the row.
   */
  async markUsed(userId: string, codeHash: string, nowIso: string): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('recovery_codes')
      .set({ used_at: nowIso })
      .where('code_hash', '=', codeHash)
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async countUnused(userId: string): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('recovery_codes')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    // count(*) is bigint on PostgreSQL: it arrives as a string.
    return Number(row.n);
  }
}
