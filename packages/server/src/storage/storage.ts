import { createHmac, timingSafeEqual } from 'node:crypto';
import { promises as fs, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StorageBackend } from '@bulwark/protocol';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { FileMigrationProvider, Migrator } from 'kysely/migration';
import { BulwarkError } from '../errors.ts';
import type { RootKey } from '../keys/root-key.ts';
import { FieldCipher } from './field-cipher.ts';
import { openPostgresPool, quoteIdent } from './postgres.ts';
import type { Tables } from './schema.ts';
import { mapSqliteError, openSqlCipher, withStatementCache } from './sqlite.ts';

export type StorageConfig =
  | { backend: 'sqlite'; path: string }
  | { backend: 'postgres'; url: string; schema: string };

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** An open, unsealed database: the Kysely handle plus the field cipher for its content. */
export class Storage {
  readonly db: Kysely<Tables>;
  readonly backend: StorageBackend;
  readonly fields: FieldCipher;

  constructor(db: Kysely<Tables>, backend: StorageBackend, fields: FieldCipher) {
    this.db = db;
    this.backend = backend;
    this.fields = fields;
  }

  /**
   * Runs `fn` in a transaction — or, when this Storage is already bound to
   * one (a change recorded together with its audit entry), inside that one:
   * Kysely has no nested transactions, and the outer one must stay atomic.
   */
  transaction<T>(fn: (trx: Kysely<Tables>) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this.db);
    return this.db.transaction().execute(fn);
  }

  async close(): Promise<void> {
    this.fields.wipe();
    await this.db.destroy();
  }
}

/** Init: make fresh storage for a new installation; refuses storage that holds data. */
export async function createStorage(cfg: StorageConfig, root: RootKey): Promise<Storage> {
  const storage = await connect(cfg, root, { create: true });
  try {
    const existing = await readMeta(storage, cfg, 'installation_id');
    if (existing !== undefined) {
      throw new BulwarkError(
        'storage_mismatch',
        `The database already holds installation ${existing}; refusing to initialise over it.`,
      );
    }
    await migrate(storage, cfg);
    await storage.db
      .insertInto('bulwark_meta')
      .values([
        { key: 'installation_id', value: root.installationId },
        { key: 'storage_check', value: storageCheck(root) },
      ])
      .execute();
    return storage;
  } catch (err) {
    await storage.close();
    // The SQLite file did not exist before connect (openSqlCipher refuses
    // otherwise), so it is ours to remove; a refused PostgreSQL schema is
    // someone else's and stays as it is.
    if (
      cfg.backend === 'sqlite' &&
      !(err instanceof BulwarkError && err.code === 'storage_mismatch')
    ) {
      await discardFreshStorage(cfg);
    }
    throw err;
  }
}

/** Unseal: open, check the storage belongs to this installation, run pending migrations. */
export async function openStorage(cfg: StorageConfig, root: RootKey): Promise<Storage> {
  const storage = await connect(cfg, root, { create: false });
  try {
    const installation = await readMeta(storage, cfg, 'installation_id');
    if (installation === undefined) {
      throw new BulwarkError(
        'storage_mismatch',
        'The database holds no Bulwark installation (was it replaced or emptied?); restore it from a backup.',
      );
    }
    if (installation !== root.installationId) {
      throw new BulwarkError(
        'storage_mismatch',
        `The database belongs to installation ${installation}, not ${root.installationId}.`,
      );
    }
    const check = (await readMeta(storage, cfg, 'storage_check')) ?? '';
    const expected = storageCheck(root);
    if (
      check.length !== expected.length ||
      !timingSafeEqual(Buffer.from(check), Buffer.from(expected))
    ) {
      throw new BulwarkError(
        'storage_mismatch',
        'The database was not written with this installation’s keys.',
      );
    }
    await migrate(storage, cfg);
    return storage;
  } catch (err) {
    await storage.close();
    throw err;
  }
}

/**
 * Undo createStorage after a failed init. SQLite: remove the file made a
 * moment ago. PostgreSQL: forget the installation marker only — the schema
 * may hold things that are not ours, so nothing is dropped; migrations are
 * idempotent, and a later init finds no installation and proceeds.
 */
export async function discardFreshStorage(cfg: StorageConfig): Promise<void> {
  if (cfg.backend === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${cfg.path}${suffix}`, { force: true });
    return;
  }
  const pool = await openPostgresPool(cfg.url, cfg.schema);
  try {
    await pool.query(
      `DELETE FROM ${quoteIdent(cfg.schema)}.bulwark_meta WHERE key IN ('installation_id', 'storage_check')`,
    );
  } finally {
    await pool.end();
  }
}

async function connect(
  cfg: StorageConfig,
  root: RootKey,
  opts: { create: boolean },
): Promise<Storage> {
  const fields = new FieldCipher(root.derive('fieldEncryption'), root.derive('blindIndex'));
  try {
    if (cfg.backend === 'sqlite') {
      const key = root.derive('database');
      try {
        const database = openSqlCipher(cfg.path, key, opts);
        return new Storage(
          new Kysely<Tables>({
            dialect: new SqliteDialect({ database: withStatementCache(database) }),
          }),
          'sqlite',
          fields,
        );
      } finally {
        key.wipe();
      }
    }
    const pool = await openPostgresPool(cfg.url, cfg.schema);
    return new Storage(
      new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) }),
      'postgres',
      fields,
    );
  } catch (err) {
    fields.wipe();
    throw err;
  }
}

async function readMeta(
  storage: Storage,
  cfg: StorageConfig,
  key: string,
): Promise<string | undefined> {
  // A direct catalog look-up in our own schema: Kysely's introspection scans
  // every schema of the database (and trips over tables dropped meanwhile).
  const exists =
    cfg.backend === 'sqlite'
      ? await sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = 'bulwark_meta'`.execute(
          storage.db,
        )
      : await sql<{
          n: number;
        }>`select count(*)::int as n from information_schema.tables where table_schema = ${cfg.schema} and table_name = 'bulwark_meta'`.execute(
          storage.db,
        );
  if (Number(exists.rows[0]?.n ?? 0) === 0) return undefined;
  const row = await storage.db
    .selectFrom('bulwark_meta')
    .select('value')
    .where('key', '=', key)
    .executeTakeFirst();
  return row?.value;
}

/**
 * Advisory lock held while migrating a schema, and by anything that drops a
 * schema in the same database (the test suite's cleanup), so the two never
 * interleave. One constant for every installation in a database.
 */
export const schemaChangeLock = 0x42_57_4b_4d;

async function migrate(storage: Storage, cfg: StorageConfig): Promise<void> {
  const migrator = new Migrator({
    db: storage.db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsFolder }),
    ...(cfg.backend === 'postgres' ? { migrationTableSchema: cfg.schema } : {}),
  });
  // On PostgreSQL, migrations of every schema in the database take turns
  // (see schemaChangeLock): the migrator reads the catalogue of all schemas,
  // which fails if another schema is dropped underneath it.
  const { error, results } =
    cfg.backend === 'postgres'
      ? await storage.db.connection().execute(async (conn) => {
          await sql`select pg_advisory_lock(${schemaChangeLock})`.execute(conn);
          try {
            return await migrator.migrateToLatest();
          } finally {
            await sql`select pg_advisory_unlock(${schemaChangeLock})`.execute(conn);
          }
        })
      : await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new BulwarkError(
      'internal',
      `Database migration ${failed} failed: ${(mapSqliteError(error, '') as Error).message}`,
    );
  }
}

/** Proves the stored data was written under this root key (not just carrying its installation id). */
function storageCheck(root: RootKey): string {
  const key = root.derive('storageCheck');
  try {
    return createHmac('sha256', key.bytes()).update('bulwark-storage-check:v1').digest('hex');
  } finally {
    key.wipe();
  }
}
