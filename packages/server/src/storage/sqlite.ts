import { chmodSync, existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';
import { BulwarkError } from '../errors.ts';
import type { PurposeKey } from '../keys/root-key.ts';

/** SQLCipher 4 pages: AES-256-CBC + HMAC-SHA512 per 4096-byte page. */
export const SQLCIPHER_PAGE_SIZE = 4096;

/**
 * Cheap checks that need no key, run at start-up while sealed: an empty or
 * truncated file (size not a whole number of pages) is refused before anyone
 * types a passphrase, and nothing is written to it.
 */
export function checkDatabaseFileShape(path: string): void {
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  if (size === 0 || size % SQLCIPHER_PAGE_SIZE !== 0) {
    throw new BulwarkError(
      'storage_corrupt',
      `The database file ${path} is truncated or damaged (${size} bytes is not a whole number of ${SQLCIPHER_PAGE_SIZE}-byte pages). Restore it from a backup; nothing was changed.`,
    );
  }
}

/**
 * Opens the SQLCipher file with a raw 256-bit key (no passphrase KDF: the key
 * is already HKDF output). SQLCipher 4 authenticates every page, so a flipped
 * bit surfaces as an error, never as silently wrong data.
 */
export function openSqlCipher(path: string, key: PurposeKey, opts: { create: boolean }) {
  if (!opts.create && !existsSync(path)) {
    throw new BulwarkError(
      'storage_corrupt',
      `The database file ${path} is missing. Restore it from a backup; a new empty one is not created in its place.`,
    );
  }
  if (opts.create && existsSync(path)) {
    throw new BulwarkError(
      'already_initialized',
      `A database file already exists at ${path} but there is no keyring beside it; refusing to overwrite it.`,
    );
  }
  checkDatabaseFileShape(path);
  const db = new Database(path, { fileMustExist: !opts.create });
  // SQLite gives the -wal and -shm files the main file's mode.
  if (opts.create) chmodSync(path, 0o600);
  try {
    db.pragma(`cipher = 'sqlcipher'`);
    db.pragma('legacy = 4');
    // The hex string is a JS string and cannot be zeroed; it lives only for this call.
    db.pragma(`key = "x'${key.bytes().toString('hex')}'"`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('secure_delete = ON');
    const check = db.pragma('quick_check') as { quick_check: string }[];
    if (check.length !== 1 || check[0]?.quick_check !== 'ok') {
      throw new BulwarkError(
        'storage_corrupt',
        `The database file ${path} failed its integrity check: ${check
          .slice(0, 3)
          .map((r) => r.quick_check)
          .join('; ')}. Restore it from a backup; nothing was changed.`,
      );
    }
    return db;
  } catch (err) {
    db.close();
    throw mapSqliteError(err, path);
  }
}

export function mapSqliteError(err: unknown, path: string): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new BulwarkError(
      'storage_corrupt',
      `The database file ${path} is corrupt, truncated or not this installation's (${code}). Restore it from a backup; nothing was changed.`,
    );
  }
  return err;
}

/**
 * The connection as Kysely sees it, with prepared statements reused by SQL
 * text. Kysely prepares a statement for every query; each holds native
 * memory the JavaScript collector does not count, so a long run of queries
 * (a million ledger appends) grew the process by gigabytes before the
 * collector finalized them. A bounded cache keeps the set of statements
 * small and saves re-preparing the same few queries. Safe on one
 * connection: Kysely runs one query at a time and each completes at once.
 */
export function withStatementCache(db: Database.Database, size = 512): Database.Database {
  const cache = new Map<string, Database.Statement>();
  const prepare = (source: string): Database.Statement => {
    const cached = cache.get(source);
    if (cached) {
      // Most recently used last, so the oldest is the first key.
      cache.delete(source);
      cache.set(source, cached);
      return cached;
    }
    const statement = db.prepare(source);
    cache.set(source, statement);
    if (cache.size > size) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    return statement;
  };
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'prepare') return prepare;
      if (property === 'close') {
        return () => {
          cache.clear();
          return target.close();
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
