import type { Selectable } from 'kysely';
import type { Tables } from '../../storage/schema.ts';
import type { Storage } from '../../storage/storage.ts';

export type SessionRow = Selectable<Tables['sessions']>;

/** Kysely queries for sessions; the rules live in service.ts. */
export class SessionStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  get fields() {
    return this.#storage.fields;
  }

  async insert(row: SessionRow): Promise<void> {
    await this.#storage.db.insertInto('sessions').values(row).execute();
  }

  async byTokenHash(tokenHash: string): Promise<SessionRow | undefined> {
    return this.#storage.db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  async byId(id: string): Promise<SessionRow | undefined> {
    return this.#storage.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
  }

  async activeForUser(userId: string, nowIso: string): Promise<SessionRow[]> {
    return this.#storage.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('idle_expires_at', '>', nowIso)
      .where('absolute_expires_at', '>', nowIso)
      .orderBy('last_seen_at', 'desc')
      .execute();
  }

  async touch(id: string, lastSeen: string, idleExpires: string): Promise<void> {
    await this.#storage.db
      .updateTable('sessions')
      .set({ last_seen_at: lastSeen, idle_expires_at: idleExpires })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async markSteppedUp(id: string, at: string): Promise<void> {
    await this.#storage.db
      .updateTable('sessions')
      .set({ step_up_at: at })
      .where('id', '=', id)
      .execute();
  }

  async revoke(
    filter: { id?: string; userId: string; exceptId?: string },
    at: string,
    reason: string,
  ) {
    let q = this.#storage.db
      .updateTable('sessions')
      .set({ revoked_at: at, revoked_reason: reason })
      .where('user_id', '=', filter.userId)
      .where('revoked_at', 'is', null);
    if (filter.id !== undefined) q = q.where('id', '=', filter.id);
    if (filter.exceptId !== undefined) q = q.where('id', '!=', filter.exceptId);
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
