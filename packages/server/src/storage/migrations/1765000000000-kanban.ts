import type { Kysely } from 'kysely';

/**
 * The issue Kanban: a board per project (ordered columns with optional WIP
 * limits), issues with per-project numbers, comments, links, a history of
 * every field value (including the ones that lost a concurrent edit), the
 * applied client operations (idempotency), and saved views. Text a person
 * wrote is FieldCipher-encrypted; ranks, ids and clocks are not.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('board_columns')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('rank', 'text', (c) => c.notNull())
    .addColumn('wip_limit', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .execute();
  await db.schema
    .createIndex('board_columns_project')
    .on('board_columns')
    .column('project_id')
    .execute();

  await db.schema
    .createTable('issue_counters')
    .addColumn('project_id', 'text', (c) => c.primaryKey().references('projects.id'))
    .addColumn('next_number', 'integer', (c) => c.notNull())
    // A fresh random token at every change to the project's issues: readers keep
    // decrypted boards while it holds (random, so no two writers can agree on one by chance).
    .addColumn('version', 'text', (c) => c.notNull().defaultTo(''))
    .execute();

  await db.schema
    .createTable('issues')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('title_enc', 'text', (c) => c.notNull())
    .addColumn('description_enc', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('rank', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('labels_enc', 'text', (c) => c.notNull())
    .addColumn('assignees', 'text', (c) => c.notNull())
    .addColumn('due_date', 'text')
    .addColumn('estimate', 'real')
    .addColumn('checklist_enc', 'text', (c) => c.notNull())
    .addColumn('clocks', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .addUniqueConstraint('issues_project_number', ['project_id', 'number'])
    .execute();
  await db.schema
    .createIndex('issues_board')
    .on('issues')
    .columns(['project_id', 'status', 'rank'])
    .execute();

  await db.schema
    .createTable('issue_comments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('issue_id', 'text', (c) => c.notNull().references('issues.id'))
    .addColumn('author_id', 'text', (c) => c.notNull())
    .addColumn('body_enc', 'text', (c) => c.notNull())
    .addColumn('mentions', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('issue_comments_issue')
    .on('issue_comments')
    .column('issue_id')
    .execute();

  await db.schema
    .createTable('issue_links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('from_issue', 'text', (c) => c.notNull().references('issues.id'))
    .addColumn('to_issue', 'text', (c) => c.notNull().references('issues.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('issue_links_unique', ['from_issue', 'to_issue', 'kind'])
    .execute();
  await db.schema.createIndex('issue_links_to').on('issue_links').column('to_issue').execute();

  await db.schema
    .createTable('issue_history')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('issue_id', 'text', (c) => c.notNull().references('issues.id'))
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('value_enc', 'text', (c) => c.notNull())
    .addColumn('hlc', 'text', (c) => c.notNull())
    .addColumn('op_id', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull()) // applied | lost
    .addColumn('lost_to', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('issue_history_issue')
    .on('issue_history')
    .column('issue_id')
    .execute();

  await db.schema
    .createTable('kanban_ops')
    .addColumn('op_key', 'text', (c) => c.primaryKey()) // actor id + ':' + client op id
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('saved_views')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('filter_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('saved_views_owner')
    .on('saved_views')
    .columns(['user_id', 'project_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'saved_views',
    'kanban_ops',
    'issue_history',
    'issue_links',
    'issue_comments',
    'issues',
    'issue_counters',
    'board_columns',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
