import type { Kysely } from 'kysely';

/**
 * The DNS firewall's directory (docs/dns.md): each org's internal zones and
 * their records, client groups (a firewall policy on top of the org's or a
 * project's), the registered clients (devices) that identify themselves by
 * a DoH URL token or a DoT client certificate, and the query log.
 *
 * Names, record data, address ranges, rules and the logged client and name
 * are FieldCipher ciphertext (they say what an org runs and what its people
 * look up). Look-ups by value go through blind indexes: a zone apex is
 * unique across the whole installation (two orgs cannot both answer for
 * one name), and the query log is searched by name. Tokens are stored only
 * as their SHA-256; certificate fingerprints are public-key digests.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('dns_zones')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('name_index', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dns_zones_org').on('dns_zones').column('org_id').execute();

  await db.schema
    .createTable('dns_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('zone_id', 'text', (c) => c.notNull().references('dns_zones.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    // Per zone and owner name: the CNAME-beside-other-data check reads one name's records.
    .addColumn('name_index', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('ttl', 'integer', (c) => c.notNull())
    .addColumn('data_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dns_records_zone').on('dns_records').column('zone_id').execute();
  await db.schema.createIndex('dns_records_name').on('dns_records').column('name_index').execute();

  await db.schema
    .createTable('dns_client_groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
    .addColumn('project_id', 'text', (c) => c.references('projects.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    // Unique per org (the org id is inside the indexed value).
    .addColumn('name_index', 'text', (c) => c.notNull().unique())
    .addColumn('source_cidrs_enc', 'text', (c) => c.notNull())
    .addColumn('rules_enc', 'text', (c) => c.notNull())
    .addColumn('block_categories', 'text', (c) => c.notNull())
    .addColumn('answer', 'text', (c) => c.notNull())
    .addColumn('sinkhole_ipv4_enc', 'text')
    .addColumn('sinkhole_ipv6_enc', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('dns_client_groups_org')
    .on('dns_client_groups')
    .column('org_id')
    .execute();

  await db.schema
    .createTable('dns_clients')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('group_id', 'text', (c) => c.notNull().references('dns_client_groups.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('cert_fingerprint', 'text', (c) => c.unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('dns_clients_group').on('dns_clients').column('group_id').execute();

  await db.schema
    .createTable('dns_query_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    // No foreign keys: the log outlives deleted groups and clients, and is written in bulk.
    .addColumn('org_id', 'text')
    .addColumn('group_id', 'text')
    .addColumn('client_enc', 'text')
    .addColumn('client_id', 'text')
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('name_index', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('rcode', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('category', 'text')
    .addColumn('rule_enc', 'text')
    .addColumn('upstream', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('dns_query_log_org_at')
    .on('dns_query_log')
    .columns(['org_id', 'at', 'id'])
    .execute();
  await db.schema
    .createIndex('dns_query_log_name')
    .on('dns_query_log')
    .column('name_index')
    .execute();
  await db.schema
    .createIndex('dns_query_log_group_at')
    .on('dns_query_log')
    .columns(['group_id', 'at'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'dns_query_log',
    'dns_clients',
    'dns_client_groups',
    'dns_records',
    'dns_zones',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
