import { randomUUID } from 'node:crypto';
import type { ZoneRecord, ZoneRecordType } from '@bulwark/dns';
import type { Selectable } from 'kysely';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';

export interface StoredZone {
  id: string;
  orgId: string;
  /** The apex, lower case ASCII, no trailing dot. */
  name: string;
  createdAt: string;
}

/** A record as the API shows it: the resolver's ZoneRecord plus its id. */
export interface StoredRecord extends ZoneRecord {
  id: string;
  zoneId: string;
  createdAt: string;
  updatedAt: string;
}

type ZoneRow = Selectable<Tables['dns_zones']>;
type RecordRow = Selectable<Tables['dns_records']>;

/**
 * Internal zones and their records. Apex, owner names and data are
 * encrypted; the apex's blind index is unique across the installation, and
 * a record's owner name is indexed per zone for the checks that compare
 * records at one name.
 */
export class ZoneStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** The apex's blind index: installation-wide, so two orgs can never hold one name. */
  apexIndex(name: string): string {
    return this.#storage.fields.blindIndex('dns_zones.name', name);
  }

  #ownerIndex(zoneId: string, name: string): string {
    return this.#storage.fields.blindIndex('dns_records.name', `${zoneId}:${name}`);
  }

  async create(orgId: string, name: string, now: Date): Promise<StoredZone> {
    const id = randomUUID();
    const at = now.toISOString();
    await this.#storage.db
      .insertInto('dns_zones')
      .values({
        id,
        org_id: orgId,
        name_enc: this.#storage.fields.encrypt(
          { table: 'dns_zones', column: 'name', rowId: id },
          name,
        ),
        name_index: this.apexIndex(name),
        created_at: at,
      })
      .execute();
    return { id, orgId, name, createdAt: at };
  }

  async get(id: string): Promise<StoredZone | null> {
    const row = await this.#storage.db
      .selectFrom('dns_zones')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#zone(row) : null;
  }

  async findByApex(name: string): Promise<StoredZone | null> {
    const row = await this.#storage.db
      .selectFrom('dns_zones')
      .selectAll()
      .where('name_index', '=', this.apexIndex(name))
      .executeTakeFirst();
    return row ? this.#zone(row) : null;
  }

  /** One org's zones, or every zone of the installation (the snapshot, the overlap check). */
  async list(orgId: string | null): Promise<StoredZone[]> {
    let query = this.#storage.db.selectFrom('dns_zones').selectAll();
    if (orgId !== null) query = query.where('org_id', '=', orgId);
    const rows = await query.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => this.#zone(r));
  }

  async countForOrg(orgId: string): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('dns_zones')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('org_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async delete(id: string): Promise<void> {
    await this.#storage.db.deleteFrom('dns_records').where('zone_id', '=', id).execute();
    await this.#storage.db.deleteFrom('dns_zones').where('id', '=', id).execute();
  }

  // --- records ----------------------------------------------------------------

  /** Records of some zones (all of them for null), in a stable order. */
  async records(zoneIds: readonly string[] | null): Promise<StoredRecord[]> {
    if (zoneIds !== null && zoneIds.length === 0) return [];
    let query = this.#storage.db.selectFrom('dns_records').selectAll();
    if (zoneIds !== null) query = query.where('zone_id', 'in', [...zoneIds]);
    const rows = await query.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => this.#record(r));
  }

  async countRecords(zoneId: string): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('dns_records')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('zone_id', '=', zoneId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The records at one owner name of a zone. */
  async recordsAt(zoneId: string, name: string): Promise<StoredRecord[]> {
    const rows = await this.#storage.db
      .selectFrom('dns_records')
      .selectAll()
      .where('zone_id', '=', zoneId)
      .where('name_index', '=', this.#ownerIndex(zoneId, name))
      .execute();
    return rows.map((r) => this.#record(r));
  }

  async getRecord(id: string): Promise<StoredRecord | null> {
    const row = await this.#storage.db
      .selectFrom('dns_records')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.#record(row) : null;
  }

  async addRecord(zoneId: string, record: ZoneRecord, now: Date): Promise<StoredRecord> {
    const id = randomUUID();
    const at = now.toISOString();
    await this.#storage.db
      .insertInto('dns_records')
      .values({
        id,
        zone_id: zoneId,
        ...this.#recordColumns(id, zoneId, record),
        created_at: at,
        updated_at: at,
      })
      .execute();
    return { id, zoneId, ...record, createdAt: at, updatedAt: at };
  }

  async replaceRecord(
    existing: StoredRecord,
    record: ZoneRecord,
    now: Date,
  ): Promise<StoredRecord> {
    const at = now.toISOString();
    await this.#storage.db
      .updateTable('dns_records')
      .set({ ...this.#recordColumns(existing.id, existing.zoneId, record), updated_at: at })
      .where('id', '=', existing.id)
      .execute();
    return { ...existing, ...record, updatedAt: at };
  }

  async deleteRecord(id: string): Promise<void> {
    await this.#storage.db.deleteFrom('dns_records').where('id', '=', id).execute();
  }

  #recordColumns(id: string, zoneId: string, record: ZoneRecord) {
    const fields = this.#storage.fields;
    const ctx = (column: string) => ({ table: 'dns_records', column, rowId: id });
    return {
      name_enc: fields.encrypt(ctx('name'), record.name),
      name_index: this.#ownerIndex(zoneId, record.name),
      type: record.type,
      ttl: record.ttl,
      data_enc: fields.encrypt(ctx('data'), record.data),
    };
  }

  #zone(r: ZoneRow): StoredZone {
    return {
      id: r.id,
      orgId: r.org_id,
      name: this.#storage.fields.decryptRecent(
        { table: 'dns_zones', column: 'name', rowId: r.id },
        r.name_enc,
      ),
      createdAt: r.created_at,
    };
  }

  #record(r: RecordRow): StoredRecord {
    const fields = this.#storage.fields;
    const ctx = (column: string) => ({ table: 'dns_records', column, rowId: r.id });
    return {
      id: r.id,
      zoneId: r.zone_id,
      name: fields.decrypt(ctx('name'), r.name_enc),
      type: r.type as ZoneRecordType,
      ttl: Number(r.ttl),
      data: fields.decrypt(ctx('data'), r.data_enc),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }
}
