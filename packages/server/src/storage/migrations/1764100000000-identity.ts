import type { Kysely } from 'kysely';

/**
 * Identity: accounts, their credentials, sessions and one-time challenges.
 * Secrets are never stored in the clear: tokens and codes as keyed hashes,
 * TOTP seeds and personal data through FieldCipher (`_enc`), look-ups through
 * blind indexes (`_index`). Append-only: add a new file to change this.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('username_enc', 'text').execute();
  await db.schema.alterTable('users').addColumn('username_index', 'text').execute();
  await db.schema
    .alterTable('users')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .execute();
  await db.schema
    .alterTable('users')
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // WebAuthn user handle: 32 random bytes (base64url), never a directory id.
  await db.schema.alterTable('users').addColumn('webauthn_user_handle', 'text').execute();
  await db.schema
    .alterTable('users')
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('local'))
    .execute();
  await db.schema.alterTable('users').addColumn('updated_at', 'text').execute();
  // SQLite cannot add a UNIQUE column; unique indexes do the same on both back ends.
  await db.schema
    .createIndex('users_username_index')
    .unique()
    .on('users')
    .column('username_index')
    .execute();
  await db.schema
    .createIndex('users_webauthn_user_handle')
    .unique()
    .on('users')
    .column('webauthn_user_handle')
    .execute();

  await db.schema
    .createTable('passkeys')
    .addColumn('id', 'text', (c) => c.primaryKey()) // credential id, base64url
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name_enc', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull()) // COSE key, base64url
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('aaguid', 'text', (c) => c.notNull())
    .addColumn('device_type', 'text', (c) => c.notNull()) // singleDevice | multiDevice
    .addColumn('backed_up', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attestation_fmt', 'text', (c) => c.notNull())
    .addColumn('attestation_enc', 'text') // the attestation object, kept for audit
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .execute();
  await db.schema.createIndex('passkeys_user').on('passkeys').column('user_id').execute();

  await db.schema
    .createTable('totp_secrets')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('secret_enc', 'text', (c) => c.notNull())
    .addColumn('confirmed_at', 'text')
    .addColumn('last_used_step', 'bigint') // replay protection: a step is accepted once
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('recovery_codes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema
    .createIndex('recovery_codes_user')
    .on('recovery_codes')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('password_credentials')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('hash', 'text', (c) => c.notNull()) // Argon2id PHC string
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sms_numbers')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('phone_enc', 'text', (c) => c.notNull())
    .addColumn('confirmed_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull()) // cookie | bearer
    .addColumn('auth_methods', 'text', (c) => c.notNull()) // JSON list, e.g. ["passkey"]
    .addColumn('device_enc', 'text') // user agent / device label
    .addColumn('source_index', 'text') // keyed hash of the source address
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('idle_expires_at', 'text', (c) => c.notNull())
    .addColumn('absolute_expires_at', 'text', (c) => c.notNull())
    .addColumn('step_up_at', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('revoked_reason', 'text')
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

  // One-time challenges: WebAuthn challenges, setup and enrolment links, SMS
  // codes, pending second factors. Stored by keyed hash, single use, expiring.
  await db.schema
    .createTable('auth_challenges')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('data_enc', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'auth_challenges',
    'sessions',
    'sms_numbers',
    'password_credentials',
    'recovery_codes',
    'totp_secrets',
    'passkeys',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
