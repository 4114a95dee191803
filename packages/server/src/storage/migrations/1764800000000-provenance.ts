import type { Kysely } from 'kysely';

/**
 * Provenance: one row per change of an object (the ledger entry's target),
 * chained by hash (see @bulwark/ledger provenance/chain.ts). Written by the
 * ledger in the same transaction as the entry it points at.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('object_versions')
    .addColumn('object_type', 'text', (c) => c.notNull())
    .addColumn('object_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('leaf_hash', 'text', (c) => c.notNull())
    .addColumn('after_sha256', 'text')
    .addColumn('prev_hash', 'text')
    .addColumn('hash', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('object_versions_pk', ['object_type', 'object_id', 'version'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('object_versions').execute();
}
