import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Tables } from '../storage/schema.ts';
import type { Storage } from '../storage/storage.ts';
import type { ChecklistItem, FieldGroup } from './model/fields.ts';
import { compareCards } from './model/rank.ts';

/** The priority levels a board offers (the merge model treats a priority as an opaque id). */
export const priorities = ['low', 'medium', 'high', 'urgent'] as const;

/** Per merge group, the stamp of the write that set it (the values live in their columns). */
export type Clocks = { [G in FieldGroup]?: { hlc: string; opId: string } };

export interface Issue {
  id: string;
  projectId: string;
  number: number;
  /** `APOLLO-42` */
  key: string;
  title: string;
  /** Markdown, rendered by clients. */
  description: string;
  /** The column the card is in. */
  status: string;
  rank: string;
  priority: string | null;
  labels: string[];
  assignees: string[];
  dueDate: string | null;
  estimate: number | null;
  checklist: ChecklistItem[];
  clocks: Clocks;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

type IssueRow = Selectable<Tables['issues']>;

/**
 * Decrypted boards, per storage (an unseal opens a new one, so nothing
 * outlives a seal) and project, valid while the project's issue version
 * holds. Reading a board decrypts every card; a board of thousands read
 * on every refresh would otherwise spend its time in AES-GCM.
 */
const boards = new WeakMap<object, Map<string, { version: string; issues: readonly Issue[] }>>();
const BOARDS_PER_STORAGE = 256;

/** Issues at rest: what people wrote (title, description, labels, checklist) is encrypted. */
export class IssueStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** The next issue number of a project (in the caller's transaction: numbers are never reused). */
  async nextNumber(projectId: string): Promise<number> {
    const db = this.#storage.db;
    const row = await db
      .selectFrom('issue_counters')
      .select('next_number')
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    if (!row) {
      await db
        .insertInto('issue_counters')
        .values({ project_id: projectId, next_number: 2 })
        .execute();
      return 1;
    }
    const next = Number(row.next_number);
    await db
      .updateTable('issue_counters')
      .set({ next_number: next + 1 })
      .where('project_id', '=', projectId)
      .where('next_number', '=', next)
      .execute();
    return next;
  }

  async insert(issue: Issue): Promise<void> {
    await this.#storage.db.insertInto('issues').values(this.#encode(issue)).execute();
    await this.#bump(issue.projectId, (issues) => [...issues, issue]);
  }

  async save(issue: Issue): Promise<void> {
    const row = this.#encode(issue);
    // Identity and provenance columns never change after insert.
    const { id, project_id: _p, number: _n, created_by: _b, created_at: _c, ...changed } = row;
    await this.#storage.db.updateTable('issues').set(changed).where('id', '=', id).execute();
    await this.#bump(issue.projectId, (issues) => issues.map((i) => (i.id === id ? issue : i)));
  }

  async softDelete(id: string, now: Date): Promise<void> {
    const row = await this.#storage.db
      .updateTable('issues')
      .set({ deleted_at: now.toISOString(), updated_at: now.toISOString() })
      .where('id', '=', id)
      .returning('project_id')
      .executeTakeFirst();
    if (row) await this.#bump(row.project_id, (issues) => issues.filter((i) => i.id !== id));
  }

  /** An issue (deleted ones only when asked: an offline edit may arrive after a delete). */
  async get(
    id: string,
    projectKey: string,
    opts: { deleted?: boolean } = {},
  ): Promise<Issue | null> {
    const row = await this.#storage.db
      .selectFrom('issues')
      .selectAll()
      .where('id', '=', id)
      .$if(!opts.deleted, (q) => q.where('deleted_at', 'is', null))
      .executeTakeFirst();
    return row ? this.#decode(row, projectKey) : null;
  }

  async isDeleted(id: string): Promise<boolean> {
    const row = await this.#storage.db
      .selectFrom('issues')
      .select('deleted_at')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.deleted_at !== null && row?.deleted_at !== undefined;
  }

  async byNumber(projectId: string, number: number, projectKey: string): Promise<Issue | null> {
    const row = await this.#storage.db
      .selectFrom('issues')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('number', '=', number)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row ? this.#decode(row, projectKey) : null;
  }

  /** Every live issue of a project (filters run on the decrypted fields: the text is encrypted at rest). */
  async all(projectId: string, projectKey: string): Promise<Issue[]> {
    const version = await this.#version(projectId);
    const cache = boards.get(this.#cacheKey()) ?? new Map();
    const hit = cache.get(projectId);
    if (hit && hit.version === version) return [...hit.issues];
    const rows = await this.#storage.db
      .selectFrom('issues')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('deleted_at', 'is', null)
      .execute();
    const issues = rows.map((r) => this.#decode(r, projectKey));
    // Read the version first and the rows after: a board cached under a version is never older than it.
    cache.delete(projectId);
    cache.set(projectId, { version, issues });
    if (cache.size > BOARDS_PER_STORAGE) cache.delete(cache.keys().next().value as string);
    boards.set(this.#cacheKey(), cache);
    return [...issues];
  }

  async #version(projectId: string): Promise<string> {
    const row = await this.#storage.db
      .selectFrom('issue_counters')
      .select('version')
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return row?.version ?? '';
  }

  /**
   * Marks the project's board changed (in the caller's transaction) and
   * carries a kept board along: the new token is ours alone, so if this
   * transaction rolls back, or another node writes too, the tokens differ
   * and the next read decrypts afresh.
   */
  async #bump(projectId: string, change: (issues: readonly Issue[]) => Issue[]): Promise<void> {
    const before = await this.#version(projectId);
    const version = randomUUID();
    await this.#storage.db
      .updateTable('issue_counters')
      .set({ version })
      .where('project_id', '=', projectId)
      .execute();
    const cache = boards.get(this.#cacheKey());
    const kept = cache?.get(projectId);
    if (cache && kept) {
      if (kept.version === before) cache.set(projectId, { version, issues: change(kept.issues) });
      else cache.delete(projectId);
    }
  }

  /** The cache belongs to the open database (a transaction's storage shares its fields). */
  #cacheKey(): object {
    return this.#storage.fields;
  }

  /** The cards of a column in board order, ids and ranks only (no decryption). */
  async positions(columnId: string): Promise<{ id: string; rank: string }[]> {
    const rows = await this.#storage.db
      .selectFrom('issues')
      .select(['id', 'rank'])
      .where('status', '=', columnId)
      .where('deleted_at', 'is', null)
      .execute();
    return rows.sort(compareCards);
  }

  async countIn(columnId: string): Promise<number> {
    const row = await this.#storage.db
      .selectFrom('issues')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('status', '=', columnId)
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  #encode(issue: Issue): IssueRow {
    const { fields } = this.#storage;
    const ctx = (column: string) => ({ table: 'issues', column, rowId: issue.id });
    return {
      id: issue.id,
      project_id: issue.projectId,
      number: issue.number,
      title_enc: fields.encrypt(ctx('title'), issue.title),
      description_enc:
        issue.description === '' ? null : fields.encrypt(ctx('description'), issue.description),
      status: issue.status,
      rank: issue.rank,
      priority: issue.priority ?? '',
      labels_enc: fields.encrypt(ctx('labels'), JSON.stringify(issue.labels)),
      assignees: JSON.stringify(issue.assignees),
      due_date: issue.dueDate,
      estimate: issue.estimate,
      checklist_enc: fields.encrypt(ctx('checklist'), JSON.stringify(issue.checklist)),
      clocks: JSON.stringify(issue.clocks),
      created_by: issue.createdBy,
      created_at: issue.createdAt,
      updated_at: issue.updatedAt,
      deleted_at: null,
    };
  }

  #decode(row: IssueRow, projectKey: string): Issue {
    const { fields } = this.#storage;
    const ctx = (column: string) => ({ table: 'issues', column, rowId: row.id });
    return {
      id: row.id,
      projectId: row.project_id,
      number: Number(row.number),
      key: `${projectKey}-${row.number}`,
      title: fields.decrypt(ctx('title'), row.title_enc),
      description: row.description_enc
        ? fields.decrypt(ctx('description'), row.description_enc)
        : '',
      status: row.status,
      rank: row.rank,
      priority: row.priority === '' ? null : row.priority,
      labels: JSON.parse(fields.decrypt(ctx('labels'), row.labels_enc)) as string[],
      assignees: JSON.parse(row.assignees) as string[],
      dueDate: row.due_date,
      estimate: row.estimate === null ? null : Number(row.estimate),
      checklist: JSON.parse(fields.decrypt(ctx('checklist'), row.checklist_enc)) as ChecklistItem[],
      clocks: JSON.parse(row.clocks) as Clocks,
      createdBy: row.created_by,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
