import type { Kysely } from 'kysely';

/**
 * Per-person keys for the personal data inside ledger entries. Erasing a
 * person deletes their key (the row stays, marked erased): the entries, and
 * so the Merkle tree, are untouched, and what they held for that person can
 * no longer be read by anyone.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('subject_keys')
    .addColumn('subject_id', 'text', (c) => c.primaryKey())
    .addColumn('key_enc', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('erased_at', 'text')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('subject_keys').execute();
}
