import { randomUUID } from 'node:crypto';
import type { CustomRule, DnsCategory, FirewallPolicy } from '@bulwark/dns';
import type { Selectable } from 'kysely';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

/** What an admin sets on a client group (on top of the org's or the project's policy). */
export interface GroupSettings {
  name: string;
  projectId: string | null;
  /** Canonical CIDRs whose clients belong here when they bring no token or certificate. */
  sourceCidrs: string[];
  /** Blocked on top of the effective policy's categories. */
  blockCategories: DnsCategory[];
  rules: CustomRule[];
  answer: FirewallPolicy['answer'];
  sinkhole: FirewallPolicy['sinkhole'];
}

export interface StoredGroup extends GroupSettings {
  id: string;
  orgId: string;
  createdAt: string;
  updatedAt: string;
}

type Row = Selectable<Tables['dns_client_groups']>;

/**
 * Client groups. Names, ranges, rules and sinkhole addresses are encrypted
 * (they map the org's network and what it chooses to block or allow); the
 * name is unique per org through its blind index.
 */
export class ClientGroupStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  nameIndex(orgId: string, name: string): string {
    return this.#storage.fields.blindIndex('dns_client_groups.name', `${orgId}:${name}`, (v) =>
      v.trim().toLowerCase(),
    );
  }

  async findByName(orgId: string, name: string): Promise<StoredGroup | null> {
    const row = await this.#storage.db
      .selectFrom('dns_client_groups')
      .selectAll()
      .where('name_index', '=', this.nameIndex(orgId, name))
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async create(orgId: string, settings: GroupSettings, now: Date): Promise<StoredGroup> {
    const id = randomUUID();
    const at = now.toISOString();
    await this.#storage.db
      .insertInto('dns_client_groups')
      .values({
        id,
        org_id: orgId,
        ...this.#columns(id, orgId, settings),
        created_at: at,
        updated_at: at,
      })
      .execute();
    return { id, orgId, ...settings, createdAt: at, updatedAt: at };
  }

  async update(group: StoredGroup, settings: GroupSettings, now: Date): Promise<StoredGroup> {
    const at = now.toISOString();
    await this.#storage.db
      .updateTable('dns_client_groups')
      .set({ ...this.#columns(group.id, group.orgId, settings), updated_at: at })
      .where('id', '=', group.id)
      .execute();
    return { ...group, ...settings, updatedAt: at };
  }

  async get(id: string): Promise<StoredGroup | null> {
    const row = await this.#storage.db
      .selectFrom('dns_client_groups')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  /** One org's groups, or every group of the installation for null. */
  async list(orgId: string | null): Promise<StoredGroup[]> {
    let query = this.#storage.db.selectFrom('dns_client_groups').selectAll();
    if (orgId !== null) query = query.where('org_id', '=', orgId);
    const rows = await query.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => this.#decode(r));
  }

  /** Where groups sit (org, project), without decrypting their settings: for per-entry policy look-ups. */
  async placement(
    ids: readonly string[] | null,
  ): Promise<{ id: string; orgId: string; projectId: string | null }[]> {
    if (ids !== null && ids.length === 0) return [];
    let query = this.#storage.db
      .selectFrom('dns_client_groups')
      .select(['id', 'org_id', 'project_id']);
    if (ids !== null) query = query.where('id', 'in', [...ids]);
    const rows = await query.execute();
    return rows.map((r) => ({ id: r.id, orgId: r.org_id, projectId: r.project_id }));
  }

  async countForOrg(orgId: string): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('dns_client_groups')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Deletes the group with its (already revoked) clients. */
  async delete(id: string): Promise<void> {
    await this.#storage.db.deleteFrom('dns_clients').where('group_id', '=', id).execute();
    await this.#storage.db.deleteFrom('dns_client_groups').where('id', '=', id).execute();
  }

  #columns(id: string, orgId: string, s: GroupSettings) {
    const fields = this.#storage.fields;
    const ctx = (column: string) => ({ table: 'dns_client_groups', column, rowId: id });
    return {
      project_id: s.projectId,
      name_enc: fields.encrypt(ctx('name'), s.name),
      name_index: this.nameIndex(orgId, s.name),
      source_cidrs_enc: fields.encrypt(ctx('source_cidrs'), JSON.stringify(s.sourceCidrs)),
      rules_enc: fields.encrypt(ctx('rules'), JSON.stringify(s.rules)),
      block_categories: JSON.stringify(s.blockCategories),
      answer: s.answer,
      sinkhole_ipv4_enc: fields.encryptNullable(ctx('sinkhole_ipv4'), s.sinkhole.ipv4),
      sinkhole_ipv6_enc: fields.encryptNullable(ctx('sinkhole_ipv6'), s.sinkhole.ipv6),
    };
  }

  #decode(r: Row): StoredGroup {
    const fields = this.#storage.fields;
    const ctx = (column: string) => ({ table: 'dns_client_groups', column, rowId: r.id });
    return {
      id: r.id,
      orgId: r.org_id,
      projectId: r.project_id,
      name: fields.decryptRecent(ctx('name'), r.name_enc),
      sourceCidrs: JSON.parse(fields.decrypt(ctx('source_cidrs'), r.source_cidrs_enc)) as string[],
      blockCategories: JSON.parse(r.block_categories) as DnsCategory[],
      rules: JSON.parse(fields.decrypt(ctx('rules'), r.rules_enc)) as CustomRule[],
      answer: r.answer,
      sinkhole: {
        ipv4: fields.decryptNullable(ctx('sinkhole_ipv4'), r.sinkhole_ipv4_enc),
        ipv6: fields.decryptNullable(ctx('sinkhole_ipv6'), r.sinkhole_ipv6_enc),
      },
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }
}
