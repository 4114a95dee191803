import { randomUUID } from 'node:crypto';
import type { Storage } from '../storage/storage.ts';

export interface Comment {
  id: string;
  issueId: string;
  authorId: string;
  body: string;
  /** Users named with @username who can see the project. */
  mentions: string[];
  createdAt: string;
}

export const COMMENT_LIMIT = 16 * 1024;

/** `@name` tokens in Markdown text (not inside an e-mail address). */
export function mentionedNames(body: string): string[] {
  const names = new Set<string>();
  for (const m of body.matchAll(/(?:^|[^A-Za-z0-9._%+-])@([A-Za-z0-9._-]{2,64})/g)) {
    if (m[1]) names.add(m[1].replace(/[.]+$/, '').toLowerCase());
  }
  return [...names];
}

export class CommentStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  async add(
    input: { issueId: string; authorId: string; body: string; mentions: string[] },
    now: Date,
  ): Promise<Comment> {
    const id = randomUUID();
    await this.#storage.db
      .insertInto('issue_comments')
      .values({
        id,
        issue_id: input.issueId,
        author_id: input.authorId,
        body_enc: this.#storage.fields.encrypt(
          { table: 'issue_comments', column: 'body', rowId: id },
          input.body,
        ),
        mentions: JSON.stringify(input.mentions),
        created_at: now.toISOString(),
      })
      .execute();
    return { id, ...input, createdAt: now.toISOString() };
  }

  async list(issueId: string): Promise<Comment[]> {
    const rows = await this.#storage.db
      .selectFrom('issue_comments')
      .selectAll()
      .where('issue_id', '=', issueId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      issueId: r.issue_id,
      authorId: r.author_id,
      body: this.#storage.fields.decrypt(
        { table: 'issue_comments', column: 'body', rowId: r.id },
        r.body_enc,
      ),
      mentions: JSON.parse(r.mentions) as string[],
      createdAt: r.created_at,
    }));
  }
}
