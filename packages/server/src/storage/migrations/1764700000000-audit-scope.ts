import type { Kysely } from 'kysely';

/**
 * Which org and project a ledger entry concerns, who made it and what it
 * did, copied out of the entry at append so readers (an org's admins, a
 * project's admins, anyone for their own actions) page through what they
 * may see without the server reading every entry. The entry stays the only
 * truth: these columns are an index (checked by verify), not hashed. A
 * retention sweep may later empty an old entry's content (`pruned_at`);
 * its leaf hash, and so the tree, stay.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_entries').addColumn('org_id', 'text').execute();
  await db.schema.alterTable('audit_entries').addColumn('project_id', 'text').execute();
  await db.schema.alterTable('audit_entries').addColumn('actor_id', 'text').execute();
  await db.schema.alterTable('audit_entries').addColumn('action', 'text').execute();
  await db.schema.alterTable('audit_entries').addColumn('pruned_at', 'text').execute();
  await db.schema
    .createIndex('audit_entries_actor')
    .on('audit_entries')
    .columns(['actor_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('audit_entries_org')
    .on('audit_entries')
    .columns(['org_id', 'seq'])
    .execute();
  await backfill(db);
  await db.schema
    .createIndex('audit_entries_project')
    .on('audit_entries')
    .columns(['project_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_entries_actor').execute();
  for (const column of ['pruned_at', 'action', 'actor_id']) {
    await db.schema.alterTable('audit_entries').dropColumn(column).execute();
  }
  await db.schema.dropIndex('audit_entries_project').execute();
  await db.schema.dropIndex('audit_entries_org').execute();
  await db.schema.alterTable('audit_entries').dropColumn('project_id').execute();
  await db.schema.alterTable('audit_entries').dropColumn('org_id').execute();
}

/** Entries written before these columns existed: fill them from the entries themselves. */
async function backfill(db: Kysely<unknown>): Promise<void> {
  const table = db as unknown as Kysely<{
    audit_entries: {
      seq: number | string;
      entry: string;
      actor_id: string | null;
      action: string | null;
    };
  }>;
  for (let from = 0; ; from += 1000) {
    const rows = await table
      .selectFrom('audit_entries')
      .select(['seq', 'entry'])
      .where('seq', '>=', from)
      .where('seq', '<', from + 1000)
      .execute();
    // Sequence numbers are dense from 0: an empty window is the end.
    if (rows.length === 0) return;
    for (const row of rows) {
      const entry = JSON.parse(row.entry) as { action: string; actor: { userId: string | null } };
      await table
        .updateTable('audit_entries')
        .set({ actor_id: entry.actor.userId, action: entry.action })
        .where('seq', '=', row.seq)
        .execute();
    }
  }
}
