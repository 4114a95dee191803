import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { schemaChangeLock } from '../../packages/server/src/storage/storage.ts';

export const testDatabaseUrl =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | null> | null = null;

/** null when PostgreSQL answers, else why not. */
function probe(): Promise<string | null> {
  reachable ??= (async () => {
    const client = new pg.Client({
      connectionString: testDatabaseUrl,
      connectionTimeoutMillis: 5000,
    });
    try {
      await client.connect();
      await client.query('select 1');
      return null;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/**
 * A PostgreSQL schema of its own for one test, dropped afterwards. Under
 * CI=true a missing PostgreSQL fails the test; elsewhere it is skipped with
 * the reason, so a laptop without PostgreSQL can still run the rest.
 */
export async function postgresSchema(
  t: TestContext,
): Promise<{ url: string; schema: string } | null> {
  const problem = await probe();
  if (problem) {
    if (process.env.CI === 'true') {
      throw new Error(
        `PostgreSQL is required under CI=true but ${testDatabaseUrl} failed: ${problem}`,
      );
    }
    t.skip(`PostgreSQL not reachable at ${testDatabaseUrl}: ${problem}`);
    return null;
  }
  const schema = `bwk_test_${randomBytes(6).toString('hex')}`;
  t.after(async () => {
    const client = new pg.Client({ connectionString: testDatabaseUrl });
    await client.connect();
    try {
      // Not while any schema is migrating: the migrator reads every schema's catalogue.
      await client.query('select pg_advisory_lock($1)', [schemaChangeLock]);
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  });
  return { url: testDatabaseUrl, schema };
}
