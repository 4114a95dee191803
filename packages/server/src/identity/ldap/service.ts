import type { FastifyBaseLogger } from 'fastify';
import type { Storage } from '../../storage/storage.ts';
import { connectorOrg } from '../connector-org.ts';
import type { Clock } from '../secret-hasher.ts';
import type { SessionService } from '../sessions/service.ts';
import type { User, UserStore } from '../user-store.ts';
import { normaliseDn } from './config.ts';
import { type LdapConnector, type LdapIdentity, LdapUnavailableError } from './connector.ts';

export interface SyncCounts {
  created: number;
  updated: number;
  disabled: number;
  unchanged: number;
}

type Logger = Pick<FastifyBaseLogger, 'info' | 'warn'>;

/**
 * LDAP logins and directory sync for one connector. The directory is the
 * source of truth for its users: name, email and admin role follow it on
 * every login and sync; a user it stops listing (or who leaves
 * requiredGroup) is disabled at the next sync and their sessions end.
 * Accounts are matched by the directory's stable id (entryUUID/objectGUID),
 * never by username or email, so a local account cannot be taken over by a
 * directory account of the same name.
 */
export class LdapLoginService {
  readonly connector: LdapConnector;
  readonly #storage: Storage;
  readonly #users: UserStore;
  readonly #sessions: SessionService;
  readonly #clock: Clock;
  readonly #log: Logger | null;
  readonly #roles: Map<string, 'admin' | 'member'>;
  readonly #required: string | null;

  constructor(opts: {
    storage: Storage;
    users: UserStore;
    sessions: SessionService;
    connector: LdapConnector;
    clock: Clock;
    logger?: Logger;
  }) {
    this.connector = opts.connector;
    this.#storage = opts.storage;
    this.#users = opts.users;
    this.#sessions = opts.sessions;
    this.#clock = opts.clock;
    this.#log = opts.logger ?? null;
    const cfg = opts.connector.config;
    this.#roles = new Map(Object.entries(cfg.groupRoles).map(([dn, r]) => [normaliseDn(dn), r]));
    this.#required = cfg.requiredGroup ? normaliseDn(cfg.requiredGroup) : null;
  }

  get id(): string {
    return this.connector.id;
  }

  /**
   * The active local user for these directory credentials (created just in
   * time on first login), or null: wrong credentials, unknown user, not in
   * requiredGroup, or disabled here. Throws LdapUnavailableError when the
   * directory cannot answer; nothing is changed then.
   */
  async login(username: string, password: string): Promise<User | null> {
    const identity = await this.connector.authenticate(username, password);
    if (!identity || !this.#eligible(identity)) return null;
    const { user } = await this.#upsert(identity);
    return user.status === 'active' ? user : null;
  }

  /**
   * Reads every directory user: creates and updates local users, disables
   * (and logs out) users of this connector the directory no longer lists or
   * who left requiredGroup. Throws LdapUnavailableError, having changed
   * nothing, when the directory cannot be read or lists nobody at all while
   * users are linked (a wrong baseDn or filter must not disable everyone).
   */
  async sync(): Promise<SyncCounts> {
    const listed = await this.connector.listUsers();
    const counts: SyncCounts = { created: 0, updated: 0, disabled: 0, unchanged: 0 };
    const links = await this.#storage.db
      .selectFrom('external_identities')
      .selectAll()
      .where('connector_id', '=', this.id)
      .execute();
    if (listed.length === 0 && links.some((l) => l.removed_at === null)) {
      throw new LdapUnavailableError(
        this.id,
        'protocol',
        'the directory listed no users; refusing to disable every linked account (check baseDn and userFilter)',
      );
    }
    const seen = new Set<string>();
    for (const identity of listed.filter((i) => this.#eligible(i))) {
      seen.add(this.#index(identity.externalId));
      const { outcome } = await this.#upsert(identity);
      counts[outcome]++;
    }
    const now = this.#clock.now().toISOString();
    for (const link of links) {
      if (seen.has(link.external_id_index) || link.removed_at !== null) continue;
      await this.#storage.db
        .updateTable('external_identities')
        .set({ removed_at: now, last_synced_at: now })
        .where('connector_id', '=', this.id)
        .where('external_id_index', '=', link.external_id_index)
        .execute();
      await this.#users.setStatus(link.user_id, 'disabled', this.#clock.now());
      await this.#sessions.revokeAllForUser(link.user_id, 'ldap-removed');
      counts.disabled++;
      this.#log?.info({ connector: this.id, userId: link.user_id }, 'ldap: user disabled by sync');
    }
    return counts;
  }

  /** Whether the (nested) groups make this identity an admin here. */
  isAdmin(groups: readonly string[]): boolean {
    return groups.some((g) => this.#roles.get(normaliseDn(g)) === 'admin');
  }

  #eligible(identity: LdapIdentity): boolean {
    return this.#required === null || identity.groups.includes(this.#required);
  }

  #index(externalId: string): string {
    return this.#storage.fields.blindIndex(`ldap.external_id:${this.id}`, externalId);
  }

  async #upsert(
    identity: LdapIdentity,
  ): Promise<{ user: User; outcome: 'created' | 'updated' | 'unchanged' }> {
    const { db, fields } = this.#storage;
    const index = this.#index(identity.externalId);
    const now = this.#clock.now();
    const nowIso = now.toISOString();
    // The directory's admin group makes org admins; installation admins only
    // through a connector of the default org, never a tenant's own directory.
    const orgAdmin = this.isAdmin(identity.groups);
    const isAdmin = orgAdmin && this.connector.config.org === null;
    const groupsJson = JSON.stringify(identity.groups);
    const link = await db
      .selectFrom('external_identities')
      .selectAll()
      .where('connector_id', '=', this.id)
      .where('external_id_index', '=', index)
      .executeTakeFirst();

    if (!link) {
      const orgId = await connectorOrg(this.#storage, this.id, this.connector.config.org);
      const user = await this.#users.create(
        {
          ...(orgId ? { orgId } : {}),
          displayName: identity.displayName,
          email: await this.#freeEmail(identity.email, null),
          username: await this.#freeUsername(identity.username),
          isAdmin,
          orgRole: orgAdmin ? 'admin' : 'member',
          source: 'ldap',
        },
        now,
      );
      const ctx = (column: string) => ({
        table: 'external_identities',
        column,
        rowId: `${this.id}/${user.id}`,
      });
      try {
        await db
          .insertInto('external_identities')
          .values({
            connector_id: this.id,
            external_id_index: index,
            user_id: user.id,
            external_id_enc: fields.encrypt(ctx('external_id'), identity.externalId),
            groups_enc: fields.encrypt(ctx('groups'), groupsJson),
            removed_at: null,
            last_synced_at: nowIso,
            created_at: nowIso,
          })
          .execute();
      } catch (err) {
        // A concurrent first login linked it first: drop ours and use theirs.
        await db.deleteFrom('users').where('id', '=', user.id).execute();
        const other = await db
          .selectFrom('external_identities')
          .select('user_id')
          .where('connector_id', '=', this.id)
          .where('external_id_index', '=', index)
          .executeTakeFirst();
        const existing = other ? await this.#users.get(other.user_id) : null;
        if (!existing) throw err;
        return { user: existing, outcome: 'unchanged' };
      }
      this.#log?.info({ connector: this.id, userId: user.id }, 'ldap: user created');
      return { user, outcome: 'created' };
    }

    const user = await this.#users.get(link.user_id);
    if (!user) throw new Error(`external identity points at missing user ${link.user_id}`);
    const email =
      identity.email === user.email ? user.email : await this.#freeEmail(identity.email, user.id);
    const reactivate = link.removed_at !== null;
    const changed =
      user.displayName !== identity.displayName ||
      user.email !== email ||
      user.isAdmin !== isAdmin ||
      (user.orgRole !== 'owner' && user.orgRole !== (orgAdmin ? 'admin' : 'member')) ||
      reactivate;
    if (changed) {
      const rowCtx = (column: string) => ({ table: 'users', column, rowId: user.id });
      await db
        .updateTable('users')
        .set({
          display_name_enc: fields.encrypt(rowCtx('display_name'), identity.displayName),
          email_enc: fields.encryptNullable(rowCtx('email'), email),
          email_index:
            email === null ? null : fields.blindIndex('users.email', email, normaliseEmail),
          is_admin: isAdmin ? 1 : 0,
          // The directory's admin group makes an org admin; it never touches an org owner.
          ...(user.orgRole === 'owner' ? {} : { org_role: orgAdmin ? 'admin' : 'member' }),
          ...(reactivate ? { status: 'active' as const } : {}),
          updated_at: nowIso,
        })
        .where('id', '=', user.id)
        .execute();
    }
    const linkCtx = (column: string) => ({
      table: 'external_identities',
      column,
      rowId: `${this.id}/${user.id}`,
    });
    await db
      .updateTable('external_identities')
      .set({
        groups_enc: fields.encrypt(linkCtx('groups'), groupsJson),
        removed_at: null,
        last_synced_at: nowIso,
      })
      .where('connector_id', '=', this.id)
      .where('external_id_index', '=', index)
      .execute();
    const fresh = changed ? await this.#users.get(user.id) : user;
    if (!fresh) throw new Error(`user ${user.id} vanished`);
    return { user: fresh, outcome: changed ? 'updated' : 'unchanged' };
  }

  /** The email if no other account holds it (emails are unique here), else null. */
  async #freeEmail(email: string | null, ownerId: string | null): Promise<string | null> {
    if (email === null) return null;
    const holder = await this.#users.findByEmail(email);
    if (holder && holder.id !== ownerId) {
      this.#log?.warn(
        { connector: this.id },
        'ldap: email already used by another account; not copied',
      );
      return null;
    }
    return email;
  }

  /** The username if free (usernames are unique and used by password login), else null. */
  async #freeUsername(username: string): Promise<string | null> {
    if (await this.#users.findByUsername(username)) {
      this.#log?.warn(
        { connector: this.id },
        'ldap: username already taken; account created without one',
      );
      return null;
    }
    return username;
  }
}

const normaliseEmail = (email: string) => email.trim().toLowerCase();
