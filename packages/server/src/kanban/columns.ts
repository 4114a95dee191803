import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';
import { compareCards, rankBetween } from './model/rank.ts';

export interface Column {
  id: string;
  projectId: string;
  name: string;
  rank: string;
  /** Work-in-progress limit: exceeding it is allowed and flagged, never refused. */
  wipLimit: number | null;
}

/** The columns a new board starts with. */
export const defaultColumns = ['To do', 'In progress', 'Review', 'Done'];

/** A board's ordered columns (workflow states). Names are encrypted; order is a fractional rank. */
export class ColumnStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** The board's columns in order; a board gets its default columns the first time it is read. */
  async list(projectId: string, now: Date): Promise<Column[]> {
    const rows = await this.#rows(projectId);
    if (rows.length > 0) return rows;
    const exists = await this.#storage.db
      .selectFrom('board_columns')
      .select('id')
      .where('project_id', '=', projectId)
      .limit(1)
      .executeTakeFirst();
    // Every column deleted on purpose: the board stays empty.
    if (exists) return [];
    let after: string | null = null;
    for (const name of defaultColumns) {
      after = (await this.create(projectId, name, null, after, null, now)).rank;
    }
    return this.#rows(projectId);
  }

  async get(id: string): Promise<Column | null> {
    const row = await this.#storage.db
      .selectFrom('board_columns')
      .selectAll()
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row ? this.#decode(row) : null;
  }

  async create(
    projectId: string,
    name: string,
    wipLimit: number | null,
    afterRank: string | null,
    beforeRank: string | null,
    now: Date,
  ): Promise<Column> {
    const id = randomUUID();
    const rank = rankBetween(afterRank, beforeRank);
    await this.#storage.db
      .insertInto('board_columns')
      .values({
        id,
        project_id: projectId,
        name_enc: this.#encryptName(id, name),
        rank,
        wip_limit: wipLimit,
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
        deleted_at: null,
      })
      .execute();
    return { id, projectId, name, rank, wipLimit };
  }

  async update(
    column: Column,
    change: { name?: string; wipLimit?: number | null; rank?: string },
    now: Date,
  ): Promise<Column> {
    await this.#storage.db
      .updateTable('board_columns')
      .set({
        ...(change.name !== undefined
          ? { name_enc: this.#encryptName(column.id, change.name) }
          : {}),
        ...(change.wipLimit !== undefined ? { wip_limit: change.wipLimit } : {}),
        ...(change.rank !== undefined ? { rank: change.rank } : {}),
        updated_at: now.toISOString(),
      })
      .where('id', '=', column.id)
      .execute();
    return { ...column, ...change } as Column;
  }

  /** Only an empty column goes: cards are never lost with their column. */
  async delete(column: Column, now: Date): Promise<void> {
    const card = await this.#storage.db
      .selectFrom('issues')
      .select('id')
      .where('status', '=', column.id)
      .where('deleted_at', 'is', null)
      .limit(1)
      .executeTakeFirst();
    if (card) {
      throw new BulwarkError(
        'conflict',
        `Column "${column.name}" still has cards; move them first.`,
      );
    }
    await this.#storage.db
      .updateTable('board_columns')
      .set({ deleted_at: now.toISOString() })
      .where('id', '=', column.id)
      .execute();
  }

  async #rows(projectId: string): Promise<Column[]> {
    const rows = await this.#storage.db
      .selectFrom('board_columns')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('deleted_at', 'is', null)
      .execute();
    return rows.map((r) => this.#decode(r)).sort(compareCards);
  }

  #encryptName(id: string, name: string): string {
    return this.#storage.fields.encrypt(
      { table: 'board_columns', column: 'name', rowId: id },
      name,
    );
  }

  #decode(row: {
    id: string;
    project_id: string;
    name_enc: string;
    rank: string;
    wip_limit: number | null;
  }): Column {
    return {
      id: row.id,
      projectId: row.project_id,
      name: this.#storage.fields.decrypt(
        { table: 'board_columns', column: 'name', rowId: row.id },
        row.name_enc,
      ),
      rank: row.rank,
      wipLimit: row.wip_limit === null ? null : Number(row.wip_limit),
    };
  }
}
