import type { ControlledTransaction } from 'kysely';
import type { Tables } from './schema.ts';
import { Storage } from './storage.ts';

/**
 * Runs `fn` in a transaction the caller may set savepoints in (a failed
 * INSERT would otherwise abort a whole PostgreSQL transaction): committed
 * when `fn` returns, rolled back when it throws. Everything inside must use
 * the storage handed in — on SQLite the one connection is the transaction's.
 */
export async function withControlledTransaction<T>(
  outer: Storage,
  fn: (trx: ControlledTransaction<Tables>, storage: Storage) => Promise<T>,
): Promise<T> {
  const trx = await outer.db.startTransaction().execute();
  try {
    const result = await fn(trx, new Storage(trx, outer.backend, outer.fields));
    await trx.commit().execute();
    return result;
  } catch (err) {
    if (!trx.isCommitted && !trx.isRolledBack) {
      // The first error is the one to report; a failed rollback ends the connection anyway.
      await trx
        .rollback()
        .execute()
        .catch(() => {});
    }
    throw err;
  }
}
