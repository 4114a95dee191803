import type { Storage } from '../../storage/storage.ts';

export interface PasswordRecord {
  userId: string;
  /** Argon2id PHC string (hashing.ts). */
  hash: string;
  updatedAt: string;
}

/** password_credentials: one Argon2id hash per user, never the password. */
export class PasswordStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async get(userId: string): Promise<PasswordRecord | null> {
    const row = await this.#storage.db
      .selectFrom('password_credentials')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row ? { userId: row.user_id, hash: row.hash, updatedAt: row.updated_at } : null;
  }

  async userExists(userId: string): Promise<boolean> {
    const row = await this.#storage.db
      .selectFrom('users')
      .select('id')
      .where('id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Sets or replaces the user's hash. */
  async set(userId: string, hash: string, now: Date): Promise<void> {
    const updatedAt = now.toISOString();
    await this.#storage.db
      .insertInto('password_credentials')
      .values({ user_id: userId, hash, updated_at: updatedAt })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ hash, updated_at: updatedAt }))
      .execute();
  }

  /**
   * Replaces the hash only if it is still `expected` — a rehash after login
   * must not undo a password change that landed in between.
   */
  async replaceIfUnchanged(
    userId: string,
    expected: string,
    hash: string,
    now: Date,
  ): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('password_credentials')
      .set({ hash, updated_at: now.toISOString() })
      .where('user_id', '=', userId)
      .where('hash', '=', expected)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async remove(userId: string): Promise<boolean> {
    const result = await this.#storage.db
      .deleteFrom('password_credentials')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
