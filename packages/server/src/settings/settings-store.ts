import type { Storage } from '../storage/storage.ts';

/**
 * Installation settings kept in the database (not the config file): values
 * are free text an operator writes (banners, notices), so they are encrypted.
 */
export class SettingsStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async set(key: string, value: string, now = new Date()): Promise<void> {
    const value_enc = this.#storage.fields.encrypt(
      { table: 'settings', column: 'value', rowId: key },
      value,
    );
    const updated_at = now.toISOString();
    await this.#storage.db
      .insertInto('settings')
      .values({ key, value_enc, updated_at })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => ({
          value_enc,
          updated_at,
          revision: eb('settings.revision', '+', 1),
        })),
      )
      .execute();
  }

  async get(key: string): Promise<string | null> {
    const row = await this.#storage.db
      .selectFrom('settings')
      .select('value_enc')
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) return null;
    return this.#storage.fields.decrypt(
      { table: 'settings', column: 'value', rowId: key },
      row.value_enc,
    );
  }
}
