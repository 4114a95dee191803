import type { FastifyBaseLogger } from 'fastify';
import type { ControlledTransaction } from 'kysely';
import type { AuditActor, AuditEvent } from '../../audit/ledger/entry.ts';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { withControlledTransaction } from '../../storage/controlled-transaction.ts';
import type { Tables } from '../../storage/schema.ts';
import type { Storage } from '../../storage/storage.ts';
import { connectorOrg } from '../connector-org.ts';
import type { Clock } from '../secret-hasher.ts';
import { SessionStore } from '../sessions/store.ts';
import { type User, UserStore } from '../user-store.ts';
import { normaliseDn } from './config.ts';
import { type LdapConnector, type LdapIdentity, LdapUnavailableError } from './connector.ts';

export interface SyncCounts {
  created: number;
  updated: number;
  disabled: number;
  unchanged: number;
}

type Logger = Pick<FastifyBaseLogger, 'info' | 'warn'>;

/** The ledger's actor for a sync nobody asked for (the schedule). */
export const LDAP_SYNC_ACTOR: AuditActor = { kind: 'system', channel: 'ldap-sync' };

/** Where a login's or a sync's changes are recorded. */
export interface LdapAudit {
  ledger: AuditLedger;
}

/** One database transaction and its ledger: everything inside goes through it. */
interface LdapTx {
  trx: ControlledTransaction<Tables>;
  storage: Storage;
  users: UserStore;
  record(event: AuditEvent): Promise<void>;
}

/** The first login's user and link: rolled back alone if a concurrent first login won. */
const FIRST_LOGIN = 'ldap_first_login';

/**
 * LDAP logins and directory sync for one connector. The directory is the
 * source of truth for its users: name, email and admin role follow it on
 * every login and sync; a user it stops listing (or who leaves
 * requiredGroup) is disabled at the next sync and their sessions end.
 * Accounts are matched by the directory's stable id (entryUUID/objectGUID),
 * never by username or email, so a local account cannot be taken over by a
 * directory account of the same name.
 *
 * Every change is recorded in the audit ledger in the same transaction
 * (`user.create`, `user.update`, `user.status`): if the entry cannot be
 * written, the change does not happen. The directory is only ever asked
 * before a transaction begins, never while one is open.
 */
export class LdapLoginService {
  readonly connector: LdapConnector;
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #log: Logger | null;
  readonly #roles: Map<string, 'admin' | 'member'>;
  readonly #required: string | null;

  constructor(opts: {
    storage: Storage;
    connector: LdapConnector;
    clock: Clock;
    logger?: Logger;
  }) {
    this.connector = opts.connector;
    this.#storage = opts.storage;
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
   * directory cannot answer; nothing is changed then. The ledger names the
   * user as the actor of what their login changes (channel `api`).
   */
  async login(
    username: string,
    password: string,
    audit: LdapAudit & { source?: string | null },
  ): Promise<User | null> {
    const identity = await this.connector.authenticate(username, password);
    if (!identity || !this.#eligible(identity)) return null;
    const source = audit.source ?? null;
    const { user, outcome } = await this.#change(audit.ledger, (tx) =>
      this.#upsert(tx, identity, (userId) => ({ kind: 'user', userId, source, channel: 'api' })),
    );
    if (outcome === 'created') {
      this.#log?.info({ connector: this.id, userId: user.id }, 'ldap: user created');
    }
    return user.status === 'active' ? user : null;
  }

  /**
   * Reads every directory user: creates and updates local users, disables
   * (and logs out) users of this connector the directory no longer lists or
   * who left requiredGroup. Throws LdapUnavailableError, having changed
   * nothing, when the directory cannot be read or lists nobody at all while
   * users are linked (a wrong baseDn or filter must not disable everyone).
   * Each user's change commits with its entry on its own, so a long sync
   * never holds the database: one that fails part-way (say, the ledger
   * cannot be written) keeps the changes before it, each with its entry,
   * and the next sync goes on from there. `actor` defaults to the system
   * (the schedule).
   */
  async sync(audit: LdapAudit & { actor?: AuditActor }): Promise<SyncCounts> {
    const actor = audit.actor ?? LDAP_SYNC_ACTOR;
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
      const { user, outcome } = await this.#change(audit.ledger, (tx) =>
        this.#upsert(tx, identity, () => actor),
      );
      counts[outcome]++;
      if (outcome === 'created') {
        this.#log?.info({ connector: this.id, userId: user.id }, 'ldap: user created');
      }
    }
    for (const link of links) {
      if (seen.has(link.external_id_index) || link.removed_at !== null) continue;
      const disabled = await this.#change(audit.ledger, (tx) =>
        this.#disable(tx, link.external_id_index, actor),
      );
      if (!disabled) continue;
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

  /**
   * Runs `fn` and its ledger entries in one transaction: both commit or
   * neither does. A controlled transaction, so a first login can roll back
   * to a savepoint (a failed INSERT would otherwise abort a PostgreSQL
   * transaction). Everything inside must use `tx` (SQLite has one connection).
   */
  async #change<T>(ledger: AuditLedger, fn: (tx: LdapTx) => Promise<T>): Promise<T> {
    return withControlledTransaction(this.#storage, (trx, storage) =>
      fn({
        trx,
        storage,
        users: new UserStore(storage),
        record: async (event) => {
          await ledger.append(trx, event);
        },
      }),
    );
  }

  /** The link row, locked against a concurrent login or sync of the same account (PostgreSQL). */
  #link(tx: LdapTx, index: string) {
    return tx.storage.db
      .selectFrom('external_identities')
      .selectAll()
      .where('connector_id', '=', this.id)
      .where('external_id_index', '=', index)
      .$if(tx.storage.backend === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
  }

  #groupsOf(userId: string, groupsEnc: string): string[] {
    const groups = this.#storage.fields.decrypt(
      { table: 'external_identities', column: 'groups', rowId: `${this.id}/${userId}` },
      groupsEnc,
    );
    return JSON.parse(groups) as string[];
  }

  /** What the ledger hashes as the account's before and after: the user and its directory link. */
  #view(user: User, link: { groups: readonly string[]; removed: boolean }) {
    return {
      id: user.id,
      displayName: user.displayName,
      username: user.username,
      email: user.email,
      status: user.status,
      isAdmin: user.isAdmin,
      orgId: user.orgId,
      orgRole: user.orgRole,
      source: user.source,
      directory: { connector: this.id, groups: [...link.groups], removed: link.removed },
    };
  }

  /** Disables a user the directory stopped listing and ends their sessions; false if done already. */
  async #disable(tx: LdapTx, index: string, actor: AuditActor): Promise<boolean> {
    const link = await this.#link(tx, index);
    if (!link || link.removed_at !== null) return false;
    const user = await tx.users.get(link.user_id);
    if (!user) throw new Error(`external identity points at missing user ${link.user_id}`);
    const now = this.#clock.now();
    const nowIso = now.toISOString();
    await tx.storage.db
      .updateTable('external_identities')
      .set({ removed_at: nowIso, last_synced_at: nowIso })
      .where('connector_id', '=', this.id)
      .where('external_id_index', '=', index)
      .execute();
    await tx.users.setStatus(user.id, 'disabled', now);
    await new SessionStore(tx.storage).revoke({ userId: user.id }, nowIso, 'ldap-removed');
    const groups = this.#groupsOf(user.id, link.groups_enc);
    await tx.record({
      action: 'user.status',
      actor,
      target: { type: 'user', id: user.id },
      before: this.#view(user, { groups, removed: false }),
      after: this.#view({ ...user, status: 'disabled' }, { groups, removed: true }),
    });
    return true;
  }

  async #upsert(
    tx: LdapTx,
    identity: LdapIdentity,
    actorFor: (userId: string) => AuditActor,
  ): Promise<{ user: User; outcome: 'created' | 'updated' | 'unchanged' }> {
    const { fields } = this.#storage;
    const db = tx.storage.db;
    const index = this.#index(identity.externalId);
    const now = this.#clock.now();
    const nowIso = now.toISOString();
    // The directory's admin group makes org admins; installation admins only
    // through a connector of the default org, never a tenant's own directory.
    const orgAdmin = this.isAdmin(identity.groups);
    const isAdmin = orgAdmin && this.connector.config.org === null;
    const groupsJson = JSON.stringify(identity.groups);
    const link = await this.#link(tx, index);

    if (!link) {
      const orgId = await connectorOrg(tx.storage, this.id, this.connector.config.org);
      const email = await this.#freeEmail(tx, identity.email, null);
      const username = await this.#freeUsername(tx, identity.username);
      const savepoint = await tx.trx.savepoint(FIRST_LOGIN).execute();
      let user: User;
      try {
        user = await tx.users.create(
          {
            ...(orgId ? { orgId } : {}),
            displayName: identity.displayName,
            email,
            username,
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
        await savepoint.releaseSavepoint(FIRST_LOGIN).execute();
      } catch (err) {
        // A concurrent first login linked it first (its user or link insert
        // collided with ours): undo ours, keep the transaction, use theirs.
        await savepoint.rollbackToSavepoint(FIRST_LOGIN).execute();
        await savepoint.releaseSavepoint(FIRST_LOGIN).execute();
        const other = await this.#link(tx, index);
        const existing = other ? await tx.users.get(other.user_id) : null;
        if (!existing) throw err;
        return { user: existing, outcome: 'unchanged' };
      }
      await tx.record({
        action: 'user.create',
        actor: actorFor(user.id),
        target: { type: 'user', id: user.id },
        after: this.#view(user, { groups: identity.groups, removed: false }),
      });
      return { user, outcome: 'created' };
    }

    const user = await tx.users.get(link.user_id);
    if (!user) throw new Error(`external identity points at missing user ${link.user_id}`);
    const email =
      identity.email === user.email
        ? user.email
        : await this.#freeEmail(tx, identity.email, user.id);
    const reactivate = link.removed_at !== null;
    const orgRole =
      user.orgRole === 'owner' ? user.orgRole : orgAdmin ? ('admin' as const) : ('member' as const);
    const profileChanged =
      user.displayName !== identity.displayName ||
      user.email !== email ||
      user.isAdmin !== isAdmin ||
      user.orgRole !== orgRole;
    const oldGroups = this.#groupsOf(user.id, link.groups_enc);
    const groupsChanged = JSON.stringify(oldGroups) !== groupsJson;
    if (profileChanged || reactivate) {
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
          org_role: orgRole,
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
    const changed = profileChanged || groupsChanged || reactivate;
    const fresh = changed ? await tx.users.get(user.id) : user;
    if (!fresh) throw new Error(`user ${user.id} vanished`);
    // What the directory changed (name, email, roles, groups), then the re-enabling.
    const before = this.#view(user, { groups: oldGroups, removed: reactivate });
    const updated = this.#view(
      { ...fresh, status: user.status },
      { groups: identity.groups, removed: reactivate },
    );
    if (profileChanged || groupsChanged) {
      await tx.record({
        action: 'user.update',
        actor: actorFor(user.id),
        target: { type: 'user', id: user.id },
        before,
        after: updated,
      });
    }
    if (reactivate) {
      await tx.record({
        action: 'user.status',
        actor: actorFor(user.id),
        target: { type: 'user', id: user.id },
        before: updated,
        after: this.#view(fresh, { groups: identity.groups, removed: false }),
      });
    }
    return { user: fresh, outcome: changed ? 'updated' : 'unchanged' };
  }

  /** The email if no other account holds it (emails are unique here), else null. */
  async #freeEmail(
    tx: LdapTx,
    email: string | null,
    ownerId: string | null,
  ): Promise<string | null> {
    if (email === null) return null;
    const holder = await tx.users.findByEmail(email);
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
  async #freeUsername(tx: LdapTx, username: string): Promise<string | null> {
    if (await tx.users.findByUsername(username)) {
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
