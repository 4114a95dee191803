import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.ts';
import { defaultOrgPolicy, type OrgPolicy } from '../policy/policy.ts';
import { PolicyStore } from '../policy/policy-store.ts';
import type { Storage } from '../storage/storage.ts';

export interface Org {
  id: string;
  slug: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

/** Slugs name orgs in URLs, CLI arguments and LDAP/OIDC connector config. */
export const slugPattern = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const normaliseSlug = (slug: string) => slug.trim().toLowerCase();

/** The blind index an org is found by from its slug (connectors, partner links). */
export function orgSlugIndex(storage: Storage, slug: string): string {
  return storage.fields.blindIndex('orgs.slug', slug, normaliseSlug);
}

/** Orgs (tenants). Slug and name are encrypted; the slug is unique through its blind index. */
export class OrgStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async create(input: { slug: string; name: string; policy?: OrgPolicy }, now: Date): Promise<Org> {
    const { db, fields } = this.#storage;
    const slug = normaliseSlug(input.slug);
    if (!slugPattern.test(slug)) {
      throw new BulwarkError(
        'bad_request',
        `slug: "${input.slug}" must be 1-40 lowercase letters, digits or inner dashes.`,
      );
    }
    if (await this.findBySlug(slug)) {
      throw new BulwarkError('conflict', `An org with the slug "${slug}" exists already.`);
    }
    const id = randomUUID();
    const at = now.toISOString();
    await db
      .insertInto('orgs')
      .values({
        id,
        slug_enc: fields.encrypt({ table: 'orgs', column: 'slug', rowId: id }, slug),
        slug_index: orgSlugIndex(this.#storage, slug),
        name_enc: fields.encrypt({ table: 'orgs', column: 'name', rowId: id }, input.name),
        policy_enc: new PolicyStore(this.#storage).encryptOrgPolicy(
          id,
          input.policy ?? defaultOrgPolicy,
        ),
        created_at: at,
        updated_at: at,
      })
      .execute();
    return { id, slug, name: input.name, createdAt: at, updatedAt: at };
  }

  async get(id: string): Promise<Org | null> {
    const row = await this.#storage.db
      .selectFrom('orgs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async findBySlug(slug: string): Promise<Org | null> {
    const row = await this.#storage.db
      .selectFrom('orgs')
      .selectAll()
      .where('slug_index', '=', orgSlugIndex(this.#storage, slug))
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async list(ids?: readonly string[]): Promise<Org[]> {
    if (ids && ids.length === 0) return [];
    const rows = await this.#storage.db
      .selectFrom('orgs')
      .selectAll()
      .$if(ids !== undefined, (q) => q.where('id', 'in', ids ?? []))
      .orderBy('created_at')
      .execute();
    return rows.map((r) => this.#decode(r));
  }

  async rename(id: string, name: string, now: Date): Promise<void> {
    await this.#storage.db
      .updateTable('orgs')
      .set({
        name_enc: this.#storage.fields.encrypt({ table: 'orgs', column: 'name', rowId: id }, name),
        updated_at: now.toISOString(),
      })
      .where('id', '=', id)
      .execute();
  }

  async setPolicy(id: string, policy: OrgPolicy, now: Date): Promise<void> {
    await this.#storage.db
      .updateTable('orgs')
      .set({
        policy_enc: new PolicyStore(this.#storage).encryptOrgPolicy(id, policy),
        updated_at: now.toISOString(),
      })
      .where('id', '=', id)
      .execute();
  }

  /**
   * The installation's default org, made at the first unseal after init (or
   * after upgrading a pre-directory installation): users without an org join
   * it, and the installation's admins become its owners.
   */
  async ensureDefault(now: Date): Promise<Org> {
    const first =
      (await this.list())[0] ?? (await this.create({ slug: 'main', name: 'Main' }, now));
    await this.#storage.db
      .updateTable('users')
      .set({ org_id: first.id })
      .where('org_id', 'is', null)
      .execute();
    return first;
  }

  #decode(row: {
    id: string;
    slug_enc: string;
    name_enc: string;
    created_at: string;
    updated_at: string;
  }): Org {
    const { fields } = this.#storage;
    return {
      id: row.id,
      slug: fields.decrypt({ table: 'orgs', column: 'slug', rowId: row.id }, row.slug_enc),
      name: fields.decrypt({ table: 'orgs', column: 'name', rowId: row.id }, row.name_enc),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
