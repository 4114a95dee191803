import { sql } from 'kysely';
import type { Storage } from '../../storage/storage.ts';
import type { OrgRole } from '../user-store.ts';

/** Same normalisation as UserStore's email index (the two must never drift). */
const normaliseEmail = (email: string) => email.trim().toLowerCase();

export interface ProfileUpdate {
  displayName: string;
  email: string | null;
  /** undefined: leave the admin flag as it is (no group mapping configured). */
  isAdmin?: boolean;
  /** The IdP's admin role: an org admin (installation admin only via `isAdmin`). */
  orgAdmin?: boolean;
}

/**
 * Links between external identities and local users, keyed by
 * (connector, blind index of the issuer and `sub`), and the profile fields
 * an OIDC login refreshes.
 */
export class OidcIdentityStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** The subject index binds the issuer too, so a connector moved to another IdP finds no one. */
  subjectIndex(issuer: string, subject: string): string {
    return this.#storage.fields.blindIndex('oidc_identities.subject', `${issuer}\n${subject}`);
  }

  /**
   * The linked user. With `lock` (inside a transaction), the link is held
   * until it ends, so a concurrent login of the same person waits and then
   * sees this one's changes (PostgreSQL; SQLite runs one transaction at a time).
   */
  async findUserId(
    connectorId: string,
    subjectIndex: string,
    opts: { lock?: boolean } = {},
  ): Promise<string | null> {
    const row = await this.#storage.db
      .selectFrom('oidc_identities')
      .select('user_id')
      .where('connector_id', '=', connectorId)
      .where('subject_index', '=', subjectIndex)
      .$if(opts.lock === true && this.#storage.backend === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
    return row?.user_id ?? null;
  }

  /**
   * Links a new user to the external identity. Throws when the (connector,
   * subject) is linked already (a parallel first login won): in a
   * transaction, run it under a savepoint (a failed INSERT aborts a
   * PostgreSQL transaction) and look the winner up after rolling back to it.
   */
  async link(userId: string, connectorId: string, subjectIndex: string, now: Date): Promise<void> {
    await this.#storage.db
      .insertInto('oidc_identities')
      .values({
        user_id: userId,
        connector_id: connectorId,
        subject_index: subjectIndex,
        created_at: now.toISOString(),
      })
      .execute();
  }

  async updateProfile(userId: string, update: ProfileUpdate, now: Date): Promise<void> {
    const { fields, db } = this.#storage;
    await db
      .updateTable('users')
      .set({
        display_name_enc: fields.encrypt(
          { table: 'users', column: 'display_name', rowId: userId },
          update.displayName,
        ),
        email_enc: fields.encryptNullable(
          { table: 'users', column: 'email', rowId: userId },
          update.email,
        ),
        email_index:
          update.email === null
            ? null
            : fields.blindIndex('users.email', update.email, normaliseEmail),
        ...(update.isAdmin === undefined ? {} : { is_admin: update.isAdmin ? 1 : 0 }),
        // The IdP's admin role makes an org admin; it never touches an org owner.
        ...(update.orgAdmin === undefined
          ? {}
          : {
              org_role: sql<OrgRole>`case when org_role = 'owner' then 'owner' else ${update.orgAdmin ? 'admin' : 'member'} end`,
            }),
        updated_at: now.toISOString(),
      })
      .where('id', '=', userId)
      .execute();
  }
}
