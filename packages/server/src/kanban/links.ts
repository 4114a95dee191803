import { randomUUID } from 'node:crypto';
import type { Storage } from '../storage/storage.ts';

export const linkKinds = ['blocks', 'relates', 'duplicates'] as const;
export type LinkKind = (typeof linkKinds)[number];

export interface IssueLink {
  id: string;
  from: string;
  to: string;
  kind: LinkKind;
  createdAt: string;
}

/**
 * Links between issues of one project. "A blocks B" is stored once and read
 * from B as "blocked by A". A cycle of "blocks" is allowed (teams do create
 * them) but flagged, so the board can show it.
 */
export class LinkStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async add(
    input: { projectId: string; from: string; to: string; kind: LinkKind; createdBy: string },
    now: Date,
  ): Promise<IssueLink | null> {
    const existing = await this.#storage.db
      .selectFrom('issue_links')
      .select('id')
      .where('from_issue', '=', input.from)
      .where('to_issue', '=', input.to)
      .where('kind', '=', input.kind)
      .executeTakeFirst();
    if (existing) return null;
    const id = randomUUID();
    await this.#storage.db
      .insertInto('issue_links')
      .values({
        id,
        project_id: input.projectId,
        from_issue: input.from,
        to_issue: input.to,
        kind: input.kind,
        created_by: input.createdBy,
        created_at: now.toISOString(),
      })
      .execute();
    return { id, from: input.from, to: input.to, kind: input.kind, createdAt: now.toISOString() };
  }

  async remove(issueId: string, linkId: string): Promise<IssueLink | null> {
    const row = await this.#storage.db
      .selectFrom('issue_links')
      .selectAll()
      .where('id', '=', linkId)
      .where((eb) => eb.or([eb('from_issue', '=', issueId), eb('to_issue', '=', issueId)]))
      .executeTakeFirst();
    if (!row) return null;
    await this.#storage.db.deleteFrom('issue_links').where('id', '=', linkId).execute();
    return {
      id: row.id,
      from: row.from_issue,
      to: row.to_issue,
      kind: row.kind,
      createdAt: row.created_at,
    };
  }

  /** Every link touching an issue, oldest first. */
  async of(issueId: string): Promise<IssueLink[]> {
    const rows = await this.#storage.db
      .selectFrom('issue_links')
      .selectAll()
      .where((eb) => eb.or([eb('from_issue', '=', issueId), eb('to_issue', '=', issueId)]))
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      from: r.from_issue,
      to: r.to_issue,
      kind: r.kind,
      createdAt: r.created_at,
    }));
  }

  /** The issues of a "blocks" cycle through this issue (empty when there is none). */
  async blockingCycle(issueId: string): Promise<string[]> {
    const edges = await this.#storage.db
      .selectFrom('issue_links')
      .innerJoin('issues', 'issues.id', 'issue_links.from_issue')
      .select(['issue_links.from_issue', 'issue_links.to_issue'])
      .where('issue_links.kind', '=', 'blocks')
      .where('issues.deleted_at', 'is', null)
      .where(
        'issue_links.project_id',
        '=',
        this.#storage.db.selectFrom('issues').select('project_id').where('id', '=', issueId),
      )
      .execute();
    const next = new Map<string, string[]>();
    for (const e of edges) next.set(e.from_issue, [...(next.get(e.from_issue) ?? []), e.to_issue]);
    // Depth-first from the issue, looking for a way back to it.
    const path: string[] = [];
    const seen = new Set<string>();
    const walk = (at: string): boolean => {
      path.push(at);
      for (const to of next.get(at) ?? []) {
        if (to === issueId) return true;
        if (!seen.has(to)) {
          seen.add(to);
          if (walk(to)) return true;
        }
      }
      path.pop();
      return false;
    };
    return walk(issueId) ? path : [];
  }
}
