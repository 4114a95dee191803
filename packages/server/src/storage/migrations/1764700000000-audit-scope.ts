import type { Kysely } from 'kysely';

/**
 * Which org and project a ledger entry concerns, copied out of the entry at
 * append so an org's admins can page through their org's entries without
 * the server reading every entry. The entry itself stays the only truth:
 * these columns are an index, not part of what the Merkle tree hashes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_entries').addColumn('org_id', 'text').execute();
  await db.schema.alterTable('audit_entries').addColumn('project_id', 'text').execute();
  await db.schema
    .createIndex('audit_entries_org')
    .on('audit_entries')
    .columns(['org_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('audit_entries_project')
    .on('audit_entries')
    .columns(['project_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_entries_project').execute();
  await db.schema.dropIndex('audit_entries_org').execute();
  await db.schema.alterTable('audit_entries').dropColumn('project_id').execute();
  await db.schema.alterTable('audit_entries').dropColumn('org_id').execute();
}
