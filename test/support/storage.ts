/**
 * Real, migrated Storage for unit tests of domain services, opened the way
 * init does (createStorage with a fresh root key): SQLite in a temporary
 * directory, or a PostgreSQL schema of its own (see postgresSchema for the
 * CI rule: under CI=true a missing PostgreSQL fails, elsewhere it skips).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { UserStore } from '../../packages/server/src/identity/user-store.ts';
import { RootKey } from '../../packages/server/src/keys/root-key.ts';
import {
  createStorage,
  type Storage,
  type StorageConfig,
} from '../../packages/server/src/storage/storage.ts';
import { postgresSchema } from './postgres.ts';
import { tempDir } from './temp.ts';

export type Backend = 'sqlite' | 'postgres';

export interface TestStorage {
  storage: Storage;
  root: RootKey;
}

/** null when the PostgreSQL variant was skipped (outside CI). */
export async function testStorage(t: TestContext, backend: Backend): Promise<TestStorage | null> {
  let cfg: StorageConfig;
  if (backend === 'sqlite') {
    cfg = { backend: 'sqlite', path: join(tempDir(t, 'bulwark-storage-'), 'bulwark.db') };
  } else {
    const pg = await postgresSchema(t);
    if (!pg) return null;
    cfg = { backend: 'postgres', url: pg.url, schema: pg.schema };
  }
  const root = RootKey.generate(`bwk_${randomBytes(10).toString('hex')}`);
  const storage = await createStorage(cfg, root);
  // Runs after the directory or schema cleanup registered above (hooks run in
  // order): harmless, as an unlinked SQLite file stays usable until closed
  // and idle PostgreSQL connections hold no locks that DROP SCHEMA waits on.
  t.after(async () => {
    await storage.close();
    root.wipe();
  });
  return { storage, root };
}

/** A user row, for the foreign keys of credential tables. */
export async function testUser(storage: Storage, displayName = 'Test User'): Promise<string> {
  return (await new UserStore(storage).create({ displayName })).id;
}
