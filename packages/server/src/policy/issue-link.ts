import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';

/** `APOLLO-42`: a project key and an issue number. */
export const issueKeyPattern = /^([A-Z][A-Z0-9]{1,9})-([1-9][0-9]{0,8})$/;

/** The request header a change cites its issue in (every route takes it; no body changes). */
export const ISSUE_HEADER = 'bulwark-issue';

/**
 * The issue a change inside a project cites: it must be an existing issue
 * of that same project. Returns the canonical key, or null when none was
 * given; throws `issue_link_invalid` saying why when the reference is bad.
 */
export async function resolveIssueLink(
  storage: Storage,
  projectId: string,
  given: string | undefined,
): Promise<string | null> {
  if (given === undefined || given.trim() === '') return null;
  const text = given.trim();
  const match = issueKeyPattern.exec(text);
  if (!match) {
    throw new BulwarkError(
      'issue_link_invalid',
      `"${text.slice(0, 40)}" is not an issue reference (expected KEY-123).`,
    );
  }
  const project = await storage.db
    .selectFrom('projects')
    .select(['id', 'key_enc'])
    .where('id', '=', projectId)
    .executeTakeFirst();
  const key = project
    ? storage.fields.decrypt(
        { table: 'projects', column: 'key', rowId: project.id },
        project.key_enc,
      )
    : null;
  if (key !== match[1]) {
    throw new BulwarkError(
      'issue_link_invalid',
      `${text} is not an issue of this project${key ? ` (its issues are ${key}-…)` : ''}.`,
    );
  }
  const issue = await storage.db
    .selectFrom('issues')
    .select('id')
    .where('project_id', '=', projectId)
    .where('number', '=', Number(match[2]))
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!issue)
    throw new BulwarkError('issue_link_invalid', `${text} does not exist in this project.`);
  return text;
}
