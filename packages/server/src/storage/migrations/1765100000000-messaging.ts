import type { Kysely } from 'kysely';

/**
 * End-to-end encrypted messaging: the MLS Delivery Service's state. Devices
 * (identity keys), key packages, conversations (one MLS group each: epoch,
 * which device sits at which leaf, the latest GroupInfo, the server's
 * pending external proposals), the ordered log of MLS messages per
 * conversation, each device's position in it, pending Welcomes and
 * attachment blobs. MLS bytes are ciphertext the server cannot read; only
 * channel names are FieldCipher-encrypted here because they are plaintext.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('messaging_devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('signature_public_key', 'text', (c) => c.notNull().unique())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('verified_by_kind', 'text')
    .addColumn('verified_by_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema
    .createIndex('messaging_devices_user')
    .on('messaging_devices')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('messaging_device_sessions')
    .addColumn('session_id', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull().references('messaging_devices.id'))
    .addColumn('bound_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('messaging_device_challenges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('challenge', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('messaging_key_packages')
    .addColumn('ref', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull().references('messaging_devices.id'))
    // A device keeps a stock per ciphersuite: a group only takes packages of its own.
    .addColumn('ciphersuite', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('last_resort', 'integer', (c) => c.notNull())
    .addColumn('not_after', 'text', (c) => c.notNull())
    .addColumn('claimed_for', 'text')
    .addColumn('claimed_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('messaging_key_packages_device')
    .on('messaging_key_packages')
    .columns(['device_id', 'ciphersuite', 'claimed_at'])
    .execute();

  await db.schema
    .createTable('conversations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name_enc', 'text')
    // Direct conversations: "<projectId>:<smaller userId>:<larger userId>", unique (NULLs are distinct).
    .addColumn('direct_key', 'text', (c) => c.unique())
    .addColumn('participants', 'text')
    .addColumn('group_id', 'text', (c) => c.notNull().unique())
    .addColumn('ciphersuite', 'text', (c) => c.notNull())
    .addColumn('epoch', 'integer')
    .addColumn('roster', 'text', (c) => c.notNull())
    .addColumn('group_info', 'text')
    .addColumn('pending', 'text', (c) => c.notNull())
    .addColumn('last_seq', 'integer', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('conversations_project')
    .on('conversations')
    .column('project_id')
    .execute();

  await db.schema
    .createTable('conversation_log')
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    // Commits and proposals only: an application message's sender stays inside its ciphertext.
    .addColumn('sender_device_id', 'text')
    // SHA-256 of the bytes: a replayed message is recognised and not stored twice.
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('conversation_log_pk', ['conversation_id', 'seq'])
    .addUniqueConstraint('conversation_log_digest', ['conversation_id', 'digest'])
    .execute();
  await db.schema
    .createIndex('conversation_log_sent')
    .on('conversation_log')
    .column('sent_at')
    .execute();

  await db.schema
    .createTable('conversation_cursors')
    .addColumn('device_id', 'text', (c) => c.notNull().references('messaging_devices.id'))
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id'))
    // Deliveries start after the commit that added the device.
    .addColumn('joined_seq', 'integer', (c) => c.notNull())
    .addColumn('acked_seq', 'integer', (c) => c.notNull())
    // The device receives nothing after this position (the proposal or commit that removed it).
    .addColumn('removed_seq', 'integer')
    .addPrimaryKeyConstraint('conversation_cursors_pk', ['device_id', 'conversation_id'])
    .execute();
  await db.schema
    .createIndex('conversation_cursors_conversation')
    .on('conversation_cursors')
    .column('conversation_id')
    .execute();

  await db.schema
    .createTable('device_welcomes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull().references('messaging_devices.id'))
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id'))
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('device_welcomes_device')
    .on('device_welcomes')
    .column('device_id')
    .execute();

  await db.schema
    .createTable('conversation_attachments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id'))
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('conversation_attachments_conversation')
    .on('conversation_attachments')
    .column('conversation_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'conversation_attachments',
    'device_welcomes',
    'conversation_cursors',
    'conversation_log',
    'conversations',
    'messaging_key_packages',
    'messaging_device_challenges',
    'messaging_device_sessions',
    'messaging_devices',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
