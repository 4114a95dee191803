import { randomBytes, randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Tables } from '../storage/schema.ts';
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
  username: string | null;
  status: 'active' | 'disabled';
  isAdmin: boolean;
  /** Random 32-byte WebAuthn user handle (base64url); never a directory id. */
  webauthnUserHandle: string;
  source: 'local' | 'ldap' | 'oidc';
  /** Home org (tenant); null only between a pre-directory upgrade and the first unseal. */
  orgId: string | null;
  /** Role in the home org; a guest belongs to no org of its own and counts as external everywhere. */
  orgRole: OrgRole;
  createdAt: string;
}

export type OrgRole = 'owner' | 'admin' | 'member' | 'guest';

export interface NewUser {
  displayName: string;
  email?: string | null;
  username?: string | null;
  isAdmin?: boolean;
  source?: User['source'];
  /** Home org; absent = the installation's default org (the first one, made at init). */
  orgId?: string;
  orgRole?: OrgRole;
}

type UserRow = Selectable<Tables['users']>;

const normaliseEmail = (email: string) => email.trim().toLowerCase();
const normaliseUsername = (name: string) => name.trim().normalize('NFKC').toLowerCase();

export class UserStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async create(input: NewUser, now = new Date()): Promise<User> {
    const id = randomUUID();
    const email = input.email ?? null;
    const username = input.username ?? null;
    const handle = randomBytes(32).toString('base64url');
    const { fields, db } = this.#storage;
    const orgId = input.orgId ?? (await this.defaultOrgId());
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
        username_enc: fields.encryptNullable(
          { table: 'users', column: 'username', rowId: id },
          username,
        ),
        username_index:
          username === null
            ? null
            : fields.blindIndex('users.username', username, normaliseUsername),
        is_admin: input.isAdmin ? 1 : 0,
        org_id: orgId,
        org_role: input.orgRole ?? 'member',
        source: input.source ?? 'local',
        webauthn_user_handle: handle,
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
      })
      .execute();
    const created = await this.get(id);
    if (!created) throw new Error('user vanished after insert');
    return created;
  }

  /** The installation's default org: the first one, made at init; null before that. */
  async defaultOrgId(): Promise<string | null> {
    const row = await this.#storage.db
      .selectFrom('orgs')
      .select('id')
      .orderBy('created_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return row?.id ?? null;
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

  async findByUsername(username: string): Promise<User | null> {
    const index = this.#storage.fields.blindIndex('users.username', username, normaliseUsername);
    const row = await this.#storage.db
      .selectFrom('users')
      .selectAll()
      .where('username_index', '=', index)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async findByWebauthnHandle(handle: string): Promise<User | null> {
    const row = await this.#storage.db
      .selectFrom('users')
      .selectAll()
      .where('webauthn_user_handle', '=', handle)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async setStatus(id: string, status: User['status'], now = new Date()): Promise<void> {
    await this.#storage.db
      .updateTable('users')
      .set({ status, updated_at: now.toISOString() })
      .where('id', '=', id)
      .execute();
  }

  async setOrgRole(id: string, role: OrgRole, now = new Date()): Promise<void> {
    await this.#storage.db
      .updateTable('users')
      .set({ org_role: role, updated_at: now.toISOString() })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Erasure: the account keeps its id (ledger entries name it) and nothing
   * else — name, address and username are replaced or cleared, every
   * credential and external identity link is deleted, and it is disabled.
   */
  async erase(id: string, now = new Date()): Promise<void> {
    const db = this.#storage.db;
    await db
      .updateTable('users')
      .set({
        display_name_enc: this.#storage.fields.encrypt(
          { table: 'users', column: 'display_name', rowId: id },
          'Erased user',
        ),
        email_enc: null,
        email_index: null,
        username_enc: null,
        username_index: null,
        status: 'disabled',
        is_admin: 0,
        updated_at: now.toISOString(),
      })
      .where('id', '=', id)
      .execute();
    for (const table of [
      'passkeys',
      'totp_secrets',
      'recovery_codes',
      'password_credentials',
      'sms_numbers',
      'external_identities',
      'oidc_identities',
      'project_members',
    ] as const) {
      await db.deleteFrom(table).where('user_id', '=', id).execute();
    }
    await db
      .deleteFrom('group_members')
      .where('member_kind', '=', 'user')
      .where('member_id', '=', id)
      .execute();
  }

  /** The accounts of one org (or, for maintenance, of every org), oldest first. */
  async list(orgId?: string): Promise<User[]> {
    const rows = await this.#storage.db
      .selectFrom('users')
      .selectAll()
      .$if(orgId !== undefined, (q) => q.where('org_id', '=', orgId ?? ''))
      .orderBy('created_at')
      .limit(10_000)
      .execute();
    return rows.map((row) => this.#decode(row));
  }

  async countAdmins(): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('is_admin', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  #decode(row: UserRow): User {
    const { fields } = this.#storage;
    if (!row.webauthn_user_handle) throw new Error(`user ${row.id} has no WebAuthn user handle`);
    return {
      id: row.id,
      username: fields.decryptNullable(
        { table: 'users', column: 'username', rowId: row.id },
        row.username_enc,
      ),
      status: row.status,
      isAdmin: Number(row.is_admin) === 1,
      webauthnUserHandle: row.webauthn_user_handle,
      source: row.source,
      orgId: row.org_id,
      orgRole: row.org_role,
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
