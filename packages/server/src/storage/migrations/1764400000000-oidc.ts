import type { Kysely } from 'kysely';

/**
 * OIDC: which external identity (connector, subject) is which local user.
 * A user is found again by (connector, `sub`) only, never by email, so an
 * IdP that lets people pick their email cannot take over another account.
 * The subject is kept as a blind index (it is a stable personal identifier).
 * Append-only: add a new file to change this.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('oidc_identities')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('connector_id', 'text', (c) => c.notNull())
    .addColumn('subject_index', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('oidc_identities_subject')
    .unique()
    .on('oidc_identities')
    .columns(['connector_id', 'subject_index'])
    .execute();
  await db.schema
    .createIndex('oidc_identities_user')
    .on('oidc_identities')
    .column('user_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('oidc_identities').execute();
}
