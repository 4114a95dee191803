import type { Kysely } from 'kysely';

/**
 * Directory identities: which local user an LDAP / AD account (by its stable
 * entryUUID / objectGUID) became. The id is found through a blind index and
 * kept encrypted; `removed_at` marks users a sync disabled because the
 * directory no longer lists them. Append-only: add a new file to change this.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('external_identities')
    .addColumn('connector_id', 'text', (c) => c.notNull())
    .addColumn('external_id_index', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('external_id_enc', 'text', (c) => c.notNull())
    .addColumn('groups_enc', 'text', (c) => c.notNull())
    .addColumn('removed_at', 'text')
    .addColumn('last_synced_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('external_identities_key')
    .unique()
    .on('external_identities')
    .columns(['connector_id', 'external_id_index'])
    .execute();
  await db.schema
    .createIndex('external_identities_user')
    .on('external_identities')
    .column('user_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('external_identities').execute();
}
