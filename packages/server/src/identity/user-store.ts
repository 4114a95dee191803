import { randomUUID } from 'node:crypto';
import type { Storage } from '../storage/storage.ts';

/**
 * Users' personal data at rest: display name and email are encrypted per
 * field; the email is found again through its blind index, never by
 * plaintext. The identity issue builds credentials and sessions on this.
 */
export interface User {
  id: string;
  displayName: string;
  email: string | null;
  createdAt: string;
}

const normaliseEmail = (email: string) => email.trim().toLowerCase();

export class UserStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async create(
    input: { displayName: string; email?: string | null },
    now = new Date(),
  ): Promise<User> {
    const id = randomUUID();
    const email = input.email ?? null;
    const { fields, db } = this.#storage;
    await db
      .insertInto('users')
      .values({
        id,
        display_name_enc: fields.encrypt(
          { table: 'users', column: 'display_name', rowId: id },
          input.displayName,
        ),
        email_enc: fields.encryptNullable({ table: 'users', column: 'email', rowId: id }, email),
        email_index:
          email === null ? null : fields.blindIndex('users.email', email, normaliseEmail),
        created_at: now.toISOString(),
      })
      .execute();
    return { id, displayName: input.displayName, email, createdAt: now.toISOString() };
  }

  async get(id: string): Promise<User | null> {
    const row = await this.#storage.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const index = this.#storage.fields.blindIndex('users.email', email, normaliseEmail);
    const row = await this.#storage.db
      .selectFrom('users')
      .selectAll()
      .where('email_index', '=', index)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  #decode(row: {
    id: string;
    display_name_enc: string;
    email_enc: string | null;
    created_at: string;
  }): User {
    const { fields } = this.#storage;
    return {
      id: row.id,
      displayName: fields.decrypt(
        { table: 'users', column: 'display_name', rowId: row.id },
        row.display_name_enc,
      ),
      email: fields.decryptNullable(
        { table: 'users', column: 'email', rowId: row.id },
        row.email_enc,
      ),
      createdAt: row.created_at,
    };
  }
}
