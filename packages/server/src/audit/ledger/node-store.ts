import { fromHex, toHex } from '@bulwark/ledger';
import type { Kysely } from 'kysely';
import type { Tables } from '../../storage/schema.ts';
import type { NodeStore } from '../merkle/tree.ts';

/** The Merkle tree's complete-subtree hashes, read and written inside the caller's transaction. */
export class DbNodeStore implements NodeStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async get(level: number, index: number): Promise<Uint8Array | undefined> {
    const row = await this.#db
      .selectFrom('audit_nodes')
      .select('hash')
      .where('level', '=', level)
      .where('idx', '=', index)
      .executeTakeFirst();
    return row ? fromHex(row.hash) : undefined;
  }

  async put(level: number, index: number, hash: Uint8Array): Promise<void> {
    const value = toHex(hash);
    await this.#db
      .insertInto('audit_nodes')
      .values({ level, idx: index, hash: value })
      .onConflict((oc) => oc.columns(['level', 'idx']).doUpdateSet({ hash: value }))
      .execute();
  }
}
