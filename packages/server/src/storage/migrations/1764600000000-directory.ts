import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * The directory: orgs (tenants), projects, memberships, partner-org links,
 * invitations and groups. Names, slugs, keys, policies and e-mail bindings
 * are FieldCipher ciphertext; uniqueness is enforced on blind indexes.
 * Every user belongs to one home org with an org role. Append-only: add a
 * new file to change this.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('orgs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('slug_enc', 'text', (c) => c.notNull())
    .addColumn('slug_index', 'text', (c) => c.notNull().unique())
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('policy_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('users').addColumn('org_id', 'text').execute();
  await db.schema
    .alterTable('users')
    .addColumn('org_role', 'text', (c) => c.notNull().defaultTo('member'))
    .execute();
  await db.schema.createIndex('users_org').on('users').column('org_id').execute();
  await db.schema.alterTable('sessions').addColumn('passkey_aaguid', 'text').execute();

  await db.schema
    .createTable('projects')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
    .addColumn('key_enc', 'text', (c) => c.notNull())
    .addColumn('key_index', 'text', (c) => c.notNull().unique())
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('description_enc', 'text')
    .addColumn('policy_enc', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('archived_at', 'text')
    .execute();
  await db.schema.createIndex('projects_org').on('projects').column('org_id').execute();

  await db.schema
    .createTable('partner_links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
    .addColumn('host_org_id', 'text', (c) => c.notNull().references('orgs.id'))
    .addColumn('partner_org_id', 'text', (c) => c.notNull().references('orgs.id'))
    .addColumn('max_role', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('accepted_by', 'text')
    .addColumn('accepted_at', 'text')
    .addColumn('ended_by', 'text')
    .addColumn('ended_at', 'text')
    .execute();
  await db.schema
    .createIndex('partner_links_project')
    .on('partner_links')
    .column('project_id')
    .execute();
  await db.schema
    .createIndex('partner_links_partner')
    .on('partner_links')
    .column('partner_org_id')
    .execute();

  await db.schema
    .createTable('project_members')
    .addColumn('project_id', 'text', (c) =>
      c.notNull().references('projects.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('via_link_id', 'text', (c) => c.references('partner_links.id'))
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('project_members_pk', ['project_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('project_members_user')
    .on('project_members')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('name_index', 'text', (c) => c.notNull().unique())
    .addColumn('ldap_dn_enc', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('groups_org').on('groups').column('org_id').execute();

  await db.schema
    .createTable('group_members')
    .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('member_kind', 'text', (c) => c.notNull()) // user | group
    .addColumn('member_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'member_kind', 'member_id'])
    .execute();
  await db.schema
    .createIndex('group_members_member')
    .on('group_members')
    .columns(['member_kind', 'member_id'])
    .execute();

  await db.schema
    .createTable('project_group_members')
    .addColumn('project_id', 'text', (c) =>
      c.notNull().references('projects.id').onDelete('cascade'),
    )
    .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('project_group_members_pk', ['project_id', 'group_id'])
    .execute();

  await db.schema
    .createTable('invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('project_id', 'text', (c) =>
      c.notNull().references('projects.id').onDelete('cascade'),
    )
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('email_enc', 'text')
    .addColumn('email_index', 'text')
    .addColumn('domain_enc', 'text')
    .addColumn('domain_index', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_by', 'text')
    .addColumn('used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema
    .createIndex('invitations_project')
    .on('invitations')
    .column('project_id')
    .execute();

  // Installations from before the directory: their users join one default
  // org (its slug and name are set by the server at the first unseal, which
  // holds the field key this migration does not); admins become its owners.
  await sql`update users set org_role = case when is_admin = 1 then 'owner' else 'member' end`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'invitations',
    'project_group_members',
    'group_members',
    'groups',
    'project_members',
    'partner_links',
    'projects',
  ]) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.dropIndex('users_org').execute();
  await db.schema.alterTable('users').dropColumn('org_role').execute();
  await db.schema.alterTable('users').dropColumn('org_id').execute();
  await db.schema.alterTable('sessions').dropColumn('passkey_aaguid').execute();
  await db.schema.dropTable('orgs').execute();
}
