import type { Selectable } from 'kysely';
import type { Tables } from '../../storage/schema.ts';
import type { Storage } from '../../storage/storage.ts';

type PasskeyRow = Selectable<Tables['passkeys']>;

/** A stored passkey, decrypted. The attestation object stays sealed unless asked for. */
export interface Passkey {
  id: string;
  userId: string;
  name: string;
  publicKey: string;
  counter: number;
  transports: string[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  attestationFmt: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface NewPasskey {
  id: string;
  userId: string;
  name: string;
  publicKey: string;
  counter: number;
  transports: string[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  attestationFmt: string;
  /** The attestation object (base64url), kept encrypted for audit. */
  attestationObject: string;
  createdAt: string;
}

/** Kysely queries for passkeys; the rules live in service.ts. */
export class PasskeyStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async insert(p: NewPasskey): Promise<void> {
    const { fields } = this.#storage;
    await this.#storage.db
      .insertInto('passkeys')
      .values({
        id: p.id,
        user_id: p.userId,
        name_enc: fields.encrypt({ table: 'passkeys', column: 'name', rowId: p.id }, p.name),
        public_key: p.publicKey,
        counter: p.counter,
        transports: JSON.stringify(p.transports),
        aaguid: p.aaguid,
        device_type: p.deviceType,
        backed_up: p.backedUp ? 1 : 0,
        attestation_fmt: p.attestationFmt,
        attestation_enc: fields.encrypt(
          { table: 'passkeys', column: 'attestation', rowId: p.id },
          p.attestationObject,
        ),
        created_at: p.createdAt,
        last_used_at: null,
      })
      .execute();
  }

  async get(id: string): Promise<Passkey | null> {
    const row = await this.#storage.db
      .selectFrom('passkeys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async listForUser(userId: string): Promise<Passkey[]> {
    const rows = await this.#storage.db
      .selectFrom('passkeys')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => this.#decode(r));
  }

  async countForUser(userId: string): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('passkeys')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Records a successful use. Conditional on the counter still being the
   * one that was checked, so two racing assertions cannot both move it.
   */
  async recordUse(
    id: string,
    expectedCounter: number,
    newCounter: number,
    at: string,
  ): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('passkeys')
      .set({ counter: newCounter, last_used_at: at })
      .where('id', '=', id)
      .where('counter', '=', expectedCounter)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async rename(userId: string, id: string, name: string): Promise<boolean> {
    const result = await this.#storage.db
      .updateTable('passkeys')
      .set({
        name_enc: this.#storage.fields.encrypt(
          { table: 'passkeys', column: 'name', rowId: id },
          name,
        ),
      })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const result = await this.#storage.db
      .deleteFrom('passkeys')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  /** The decrypted attestation object (base64url), for audit. */
  async attestationObject(id: string): Promise<string | null> {
    const row = await this.#storage.db
      .selectFrom('passkeys')
      .select(['attestation_enc'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    return this.#storage.fields.decryptNullable(
      { table: 'passkeys', column: 'attestation', rowId: id },
      row.attestation_enc,
    );
  }

  async adminExists(): Promise<boolean> {
    const row = await this.#storage.db
      .selectFrom('users')
      .select('id')
      .where('is_admin', '=', 1)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Gives a freshly created user the handle its credential was created for. */
  async setUserHandle(userId: string, handle: string): Promise<void> {
    await this.#storage.db
      .updateTable('users')
      .set({ webauthn_user_handle: handle })
      .where('id', '=', userId)
      .execute();
  }

  #decode(row: PasskeyRow): Passkey {
    return {
      id: row.id,
      userId: row.user_id,
      name: this.#storage.fields.decrypt(
        { table: 'passkeys', column: 'name', rowId: row.id },
        row.name_enc,
      ),
      publicKey: row.public_key,
      counter: Number(row.counter),
      transports: JSON.parse(row.transports) as string[],
      aaguid: row.aaguid,
      deviceType: row.device_type,
      backedUp: Number(row.backed_up) === 1,
      attestationFmt: row.attestation_fmt,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
    };
  }
}
