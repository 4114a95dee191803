import { randomUUID } from 'node:crypto';
import type { Storage } from '../storage/storage.ts';
import type { IssueFilter } from './search.ts';

export interface SavedView {
  id: string;
  name: string;
  filter: IssueFilter;
  createdAt: string;
}

/** A person's saved filters on a board; nobody else sees them. */
export class ViewStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async list(userId: string, projectId: string): Promise<SavedView[]> {
    const rows = await this.#storage.db
      .selectFrom('saved_views')
      .selectAll()
      .where('user_id', '=', userId)
      .where('project_id', '=', projectId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      name: this.#open(r.id, 'name', r.name_enc),
      filter: JSON.parse(this.#open(r.id, 'filter', r.filter_enc)) as IssueFilter,
      createdAt: r.created_at,
    }));
  }

  async add(
    userId: string,
    projectId: string,
    name: string,
    filter: IssueFilter,
    now: Date,
  ): Promise<SavedView> {
    const id = randomUUID();
    await this.#storage.db
      .insertInto('saved_views')
      .values({
        id,
        user_id: userId,
        project_id: projectId,
        name_enc: this.#seal(id, 'name', name),
        filter_enc: this.#seal(id, 'filter', JSON.stringify(filter)),
        created_at: now.toISOString(),
      })
      .execute();
    return { id, name, filter, createdAt: now.toISOString() };
  }

  /** Deletes one of the user's own views; false when they have no such view. */
  async remove(userId: string, projectId: string, id: string): Promise<boolean> {
    const result = await this.#storage.db
      .deleteFrom('saved_views')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  #seal(id: string, column: string, value: string): string {
    return this.#storage.fields.encrypt({ table: 'saved_views', column, rowId: id }, value);
  }

  #open(id: string, column: string, value: string): string {
    return this.#storage.fields.decrypt({ table: 'saved_views', column, rowId: id }, value);
  }
}
