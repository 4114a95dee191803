import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';

export interface Group {
  id: string;
  orgId: string;
  name: string;
  /** Bound to this LDAP / AD group: its members (by the last sync) are members here. */
  ldapDn: string | null;
  createdAt: string;
}

export interface GroupMembership {
  kind: 'user' | 'group';
  id: string;
}

/** Groups of an org, made by hand or bound to an LDAP / AD group; groups may nest, never in a cycle. */
export class GroupStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  #nameIndex(orgId: string, name: string) {
    return this.#storage.fields.blindIndex('groups.name', `${orgId}:${name}`, (v) =>
      v.trim().toLowerCase(),
    );
  }

  async create(
    input: { orgId: string; name: string; ldapDn: string | null },
    now: Date,
  ): Promise<Group> {
    const { db, fields } = this.#storage;
    const index = this.#nameIndex(input.orgId, input.name);
    if (
      await db.selectFrom('groups').select('id').where('name_index', '=', index).executeTakeFirst()
    ) {
      throw new BulwarkError('conflict', `The org has a group named "${input.name}" already.`);
    }
    const id = randomUUID();
    const ctx = (column: string) => ({ table: 'groups', column, rowId: id });
    await db
      .insertInto('groups')
      .values({
        id,
        org_id: input.orgId,
        name_enc: fields.encrypt(ctx('name'), input.name),
        name_index: index,
        ldap_dn_enc: fields.encryptNullable(ctx('ldap_dn'), input.ldapDn),
        created_at: now.toISOString(),
      })
      .execute();
    return { id, ...input, createdAt: now.toISOString() };
  }

  async get(id: string): Promise<Group | null> {
    const row = await this.#storage.db
      .selectFrom('groups')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async listForOrg(orgId: string): Promise<Group[]> {
    const rows = await this.#storage.db
      .selectFrom('groups')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => this.#decode(r));
  }

  async delete(id: string): Promise<void> {
    const db = this.#storage.db;
    await db
      .deleteFrom('group_members')
      .where('member_kind', '=', 'group')
      .where('member_id', '=', id)
      .execute();
    await db.deleteFrom('groups').where('id', '=', id).execute();
  }

  async members(groupId: string): Promise<GroupMembership[]> {
    const rows = await this.#storage.db
      .selectFrom('group_members')
      .select(['member_kind', 'member_id'])
      .where('group_id', '=', groupId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ kind: r.member_kind, id: r.member_id }));
  }

  /**
   * Adds a person or a group. A group may not contain itself, directly or
   * through any chain of nested groups: such a cycle is refused, naming it.
   */
  async addMember(groupId: string, member: GroupMembership, now: Date): Promise<void> {
    if (member.kind === 'group') {
      const path = await this.#pathDown(member.id, groupId);
      if (path) {
        throw new BulwarkError(
          'bad_request',
          `Cycle: group ${groupId} would contain itself (${[groupId, ...path].join(' → ')}).`,
        );
      }
    }
    const exists = await this.#storage.db
      .selectFrom('group_members')
      .select('group_id')
      .where('group_id', '=', groupId)
      .where('member_kind', '=', member.kind)
      .where('member_id', '=', member.id)
      .executeTakeFirst();
    if (exists) return;
    await this.#storage.db
      .insertInto('group_members')
      .values({
        group_id: groupId,
        member_kind: member.kind,
        member_id: member.id,
        created_at: now.toISOString(),
      })
      .execute();
  }

  async removeMember(groupId: string, member: GroupMembership): Promise<boolean> {
    const result = await this.#storage.db
      .deleteFrom('group_members')
      .where('group_id', '=', groupId)
      .where('member_kind', '=', member.kind)
      .where('member_id', '=', member.id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** A chain of nested groups from `from` down to `target`, or null when there is none. */
  async #pathDown(from: string, target: string): Promise<string[] | null> {
    const parentOf = new Map<string, string | null>([[from, null]]);
    let frontier = [from];
    while (frontier.length > 0) {
      if (frontier.includes(target)) {
        const path: string[] = [];
        for (let at: string | null = target; at !== null; at = parentOf.get(at) ?? null) {
          path.unshift(at);
        }
        return path;
      }
      const children = await this.#storage.db
        .selectFrom('group_members')
        .select(['group_id', 'member_id'])
        .where('member_kind', '=', 'group')
        .where('group_id', 'in', frontier)
        .execute();
      frontier = [];
      for (const c of children) {
        if (!parentOf.has(c.member_id)) {
          parentOf.set(c.member_id, c.group_id);
          frontier.push(c.member_id);
        }
      }
    }
    return null;
  }

  #decode(row: {
    id: string;
    org_id: string;
    name_enc: string;
    ldap_dn_enc: string | null;
    created_at: string;
  }): Group {
    const { fields } = this.#storage;
    const ctx = (column: string) => ({ table: 'groups', column, rowId: row.id });
    return {
      id: row.id,
      orgId: row.org_id,
      name: fields.decrypt(ctx('name'), row.name_enc),
      ldapDn: fields.decryptNullable(ctx('ldap_dn'), row.ldap_dn_enc),
      createdAt: row.created_at,
    };
  }
}
