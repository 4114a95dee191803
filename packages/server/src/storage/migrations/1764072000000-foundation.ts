import type { Kysely } from 'kysely';

// Append-only: never edit a migration that has shipped; add a new file.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('bulwark_meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('display_name_enc', 'text', (c) => c.notNull())
    .addColumn('email_enc', 'text')
    .addColumn('email_index', 'text', (c) => c.unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value_enc', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('settings').execute();
  await db.schema.dropTable('users').execute();
  await db.schema.dropTable('bulwark_meta').execute();
}
