import pg from 'pg';
import { BulwarkError } from '../errors.ts';

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

/**
 * A pool whose every connection works inside the installation's schema, so
 * Kysely queries need no schema prefix and one PostgreSQL database can hold
 * several installations (tests use that).
 */
export async function openPostgresPool(url: string, schema: string): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 10_000,
    options: `-c search_path=${schema}`,
  });
  pool.on('error', () => {
    // An idle client died (server restart); the pool replaces it. Without a
    // listener the process would crash.
  });
  try {
    const client = await pool.connect();
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw new BulwarkError(
      'storage_unavailable',
      `Cannot reach PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}`,
    );
  }
  return pool;
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RangeError(`bad SQL identifier: ${name}`);
  return `"${name}"`;
}
