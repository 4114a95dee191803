import { z } from 'zod';
import { type Issue, priorities } from './issues.ts';

/** Board filters: text, label, assignee, status (column), priority, due date. Every given filter must match. */
export const issueFilterSchema = z
  .object({
    q: z.string().trim().min(1).max(200).optional(),
    label: z.string().trim().min(1).max(50).optional(),
    assignee: z.uuid('expected a user id').optional(),
    status: z.uuid('expected a column id').optional(),
    priority: z.enum(priorities).optional(),
    dueBefore: z.iso.date().optional(),
    dueAfter: z.iso.date().optional(),
  })
  .strict();

export type IssueFilter = z.output<typeof issueFilterSchema>;

/**
 * Whether an issue matches. Runs on decrypted issues: titles and
 * descriptions are encrypted at rest, so the database cannot search them.
 */
export function matchesFilter(issue: Issue, f: IssueFilter): boolean {
  if (f.q) {
    const needle = f.q.toLowerCase();
    const text = `${issue.key} ${issue.title} ${issue.description}`.toLowerCase();
    if (!text.includes(needle)) return false;
  }
  if (f.label && !issue.labels.some((l) => l.toLowerCase() === f.label?.toLowerCase()))
    return false;
  if (f.assignee && !issue.assignees.includes(f.assignee)) return false;
  if (f.status && issue.status !== f.status) return false;
  if (f.priority && issue.priority !== f.priority) return false;
  if (f.dueBefore && (issue.dueDate === null || issue.dueDate > f.dueBefore)) return false;
  if (f.dueAfter && (issue.dueDate === null || issue.dueDate < f.dueAfter)) return false;
  return true;
}
