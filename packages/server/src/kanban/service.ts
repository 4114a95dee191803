import type { AuditEvent } from '../audit/ledger/entry.ts';
import { BulwarkError } from '../errors.ts';
import { UserStore } from '../identity/user-store.ts';
import { effectiveProjectRole } from '../policy/relation.ts';
import type { Storage } from '../storage/storage.ts';
import { ColumnStore } from './columns.ts';
import { CommentStore, mentionedNames } from './comments.ts';
import { HistoryStore, OpLog } from './history.ts';
import { type Issue, IssueStore, priorities } from './issues.ts';
import { LinkStore } from './links.ts';
import { type FieldGroup, OperationError, parseSet } from './model/fields.ts';
import {
  ClockDriftError,
  createHlc,
  formatHlc,
  HlcError,
  type HybridClock,
  parseHlc,
} from './model/hlc.ts';
import { applyOperation, type IssueRecord, issueFields, type Registers } from './model/merge.ts';
import { rankBetween } from './model/rank.ts';
import type { KanbanOperation, OpResult } from './operations.ts';

/** What one operation needs: its transaction, who sends it, and which project. */
export interface OpContext {
  storage: Storage;
  /** Appends a ledger entry in this transaction (actor and scope filled in). */
  record(event: Omit<AuditEvent, 'actor'>): Promise<void>;
  actorId: string;
  projectId: string;
  projectKey: string;
  clock: HybridClock;
  now: Date;
}

/** A card as clients (and the ledger's digests) see it: its clocks let an offline client merge. */
export function publicIssue(issue: Issue): Issue {
  return issue;
}

/**
 * Applies one client operation inside the caller's transaction: once only
 * (the op log), merged field by field (last writer by HLC wins; the loser
 * is kept in the issue's history and reported to its author), recorded in
 * the ledger with the issue it concerns. Throws BulwarkError for an op that
 * must change nothing (bad input, unknown column, deleted issue).
 */
export async function applyKanbanOp(ctx: OpContext, op: KanbanOperation): Promise<OpResult> {
  const log = new OpLog(ctx.storage);
  const seen = (await log.result(ctx.actorId, op.opId)) as OpResult | undefined;
  if (seen) return { ...seen, status: 'duplicate' };
  const stamp = stampOf(ctx, op.hlc);
  const result = await apply(ctx, op, stamp);
  await log.remember(ctx.actorId, op.opId, ctx.projectId, result, ctx.now);
  return result;
}

/** The op's HLC after the server clock saw it; the server's own stamp for plain API calls. */
function stampOf(ctx: OpContext, given: string | undefined): string {
  if (given === undefined) return formatHlc(ctx.clock.now());
  let parsed: ReturnType<typeof parseHlc>;
  try {
    parsed = parseHlc(given);
  } catch (err) {
    throw new BulwarkError('bad_request', `hlc: ${(err as Error).message}`);
  }
  // A client stamps with its own node id, which starts with its user id:
  // nobody can write under another person's clock.
  if (parsed.node !== ctx.actorId && !parsed.node.startsWith(`${ctx.actorId}_`)) {
    throw new BulwarkError(
      'bad_request',
      'hlc: the node id must be your user id (or start with it and "_").',
    );
  }
  try {
    ctx.clock.receive(parsed);
  } catch (err) {
    if (err instanceof ClockDriftError) {
      throw new BulwarkError(
        'bad_request',
        `hlc: your device's clock is ${Math.round(err.driftMs / 1000)} s ahead of the server's; correct it and retry.`,
      );
    }
    if (err instanceof HlcError) throw new BulwarkError('bad_request', `hlc: ${err.message}`);
    throw err;
  }
  return given;
}

async function apply(ctx: OpContext, op: KanbanOperation, stamp: string): Promise<OpResult> {
  const issues = new IssueStore(ctx.storage);
  switch (op.kind) {
    case 'issue.create':
      return createIssue(ctx, op.opId, op.issueId, op.set, stamp);
    case 'issue.update':
      return updateIssue(ctx, op.opId, op.issueId, op.set, stamp);
    case 'issue.delete': {
      const issue = await liveIssue(ctx, issues, op.issueId);
      await issues.softDelete(issue.id, ctx.now);
      await ctx.record({
        action: 'issue.delete',
        target: { type: 'issue', id: issue.id },
        issue: issue.key,
        before: publicIssue(issue),
      });
      return { opId: op.opId, status: 'applied', issueId: issue.id };
    }
    case 'comment.add': {
      const issue = await liveIssue(ctx, issues, op.issueId);
      const mentions = await resolveMentions(ctx, mentionedNames(op.body));
      const comment = await new CommentStore(ctx.storage).add(
        { issueId: issue.id, authorId: ctx.actorId, body: op.body, mentions },
        ctx.now,
      );
      await ctx.record({
        action: 'issue.comment',
        target: { type: 'issue', id: issue.id },
        issue: issue.key,
        after: { commentId: comment.id, mentions },
      });
      return { opId: op.opId, status: 'applied', issueId: issue.id };
    }
    case 'link.add': {
      const from = await liveIssue(ctx, issues, op.issueId);
      const to = await referencedIssue(ctx, issues, op.to);
      if (to.id === from.id)
        throw new BulwarkError('bad_request', 'An issue cannot link to itself.');
      const links = new LinkStore(ctx.storage);
      const added = await links.add(
        {
          projectId: ctx.projectId,
          from: from.id,
          to: to.id,
          kind: op.link,
          createdBy: ctx.actorId,
        },
        ctx.now,
      );
      if (added) {
        await ctx.record({
          action: 'issue.link',
          target: { type: 'issue', id: from.id },
          issue: from.key,
          after: { linkId: added.id, kind: op.link, to: to.key },
        });
      }
      const cycle = op.link === 'blocks' ? await links.blockingCycle(from.id) : [];
      return {
        opId: op.opId,
        status: 'applied',
        issueId: from.id,
        ...(cycle.length > 0
          ? { warnings: [`blocks cycle: ${await keysOf(ctx, issues, cycle)}`] }
          : {}),
      };
    }
  }
}

async function createIssue(
  ctx: OpContext,
  opId: string,
  issueId: string,
  set: Record<string, unknown>,
  stamp: string,
): Promise<OpResult> {
  const issues = new IssueStore(ctx.storage);
  if (
    await ctx.storage.db
      .selectFrom('issues')
      .select('id')
      .where('id', '=', issueId)
      .executeTakeFirst()
  ) {
    throw new BulwarkError(
      'conflict',
      'An issue with this id exists already: send an update, or a new id.',
    );
  }
  const columns = await new ColumnStore(ctx.storage).list(ctx.projectId, ctx.now);
  const first = columns[0];
  if (!first) throw new BulwarkError('conflict', 'This board has no columns: add one first.');
  const wanted = { ...set };
  // A card without a position goes to the bottom of the first column.
  if (wanted.status === undefined && wanted.rank === undefined) {
    wanted.status = first.id;
    const last = (await issues.positions(first.id)).at(-1);
    wanted.rank = rankBetween(last?.rank ?? null, null);
  }
  if (typeof wanted.title !== 'string' || wanted.title.trim() === '') {
    throw new BulwarkError('bad_request', 'title: a new issue needs a title.');
  }
  const record = mergeInto(null, issueId, opId, stamp, wanted);
  await checkDomain(ctx, record.fields);
  const number = await issues.nextNumber(ctx.projectId);
  const issue: Issue = {
    ...toIssueFields(record.fields),
    id: issueId,
    projectId: ctx.projectId,
    number,
    key: `${ctx.projectKey}-${number}`,
    clocks: record.clocks,
    createdBy: ctx.actorId,
    createdAt: ctx.now.toISOString(),
    updatedAt: ctx.now.toISOString(),
  };
  await issues.insert(issue);
  const history = new HistoryStore(ctx.storage);
  await recordApplied(ctx, history, issue, record.applied, stamp, opId);
  await ctx.record({
    action: 'issue.create',
    target: { type: 'issue', id: issue.id },
    issue: issue.key,
    after: publicIssue(issue),
  });
  return { opId, status: 'applied', issueId: issue.id, ...(await wipWarnings(ctx, issue.status)) };
}

async function updateIssue(
  ctx: OpContext,
  opId: string,
  issueId: string,
  set: Record<string, unknown>,
  stamp: string,
): Promise<OpResult> {
  const issues = new IssueStore(ctx.storage);
  const before = await liveIssue(ctx, issues, issueId);
  const merged = mergeInto(before, issueId, opId, stamp, set);
  await checkDomain(ctx, merged.fields);
  const after: Issue = {
    ...before,
    ...toIssueFields(merged.fields),
    clocks: merged.clocks,
    updatedAt: ctx.now.toISOString(),
  };
  const history = new HistoryStore(ctx.storage);
  await recordApplied(ctx, history, after, merged.applied, stamp, opId);
  // Every losing value stays in the history; this op's own losses go back to its author.
  const mine: unknown[] = [];
  for (const lost of merged.lost) {
    if (lost.opId === opId) {
      mine.push(lost);
      await history.add(
        issueId,
        {
          field: lost.field,
          value: lost.value,
          hlc: lost.hlc,
          opId,
          actorId: ctx.actorId,
          outcome: 'lost',
          lostTo: lost.lostTo,
        },
        ctx.now,
      );
    }
  }
  if (merged.applied.length > 0) {
    await issues.save(after);
    const moved = merged.applied.includes('status') && merged.applied.length === 2;
    await ctx.record({
      action: moved ? 'issue.move' : 'issue.update',
      target: { type: 'issue', id: issueId },
      issue: before.key,
      before: publicIssue(before),
      after: publicIssue(after),
    });
  }
  return {
    opId,
    status: 'applied',
    issueId,
    ...(mine.length > 0 ? { conflicts: mine } : {}),
    ...(merged.applied.includes('status') ? await wipWarnings(ctx, after.status) : {}),
  };
}

/** The history rows of the fields an operation set (their new values). */
async function recordApplied(
  ctx: OpContext,
  history: HistoryStore,
  issue: Issue,
  fields: readonly string[],
  stamp: string,
  opId: string,
): Promise<void> {
  for (const field of fields) {
    await history.add(
      issue.id,
      {
        field,
        value: issue[field as keyof Issue],
        hlc: stamp,
        opId,
        actorId: ctx.actorId,
        outcome: 'applied',
        lostTo: null,
      },
      ctx.now,
    );
  }
}

/** Runs the merge model on one issue: the stored values with their stamps, plus this op. */
function mergeInto(
  issue: Issue | null,
  issueId: string,
  opId: string,
  stamp: string,
  set: Record<string, unknown>,
) {
  let record: IssueRecord = { id: issueId, registers: registersOf(issue), seenOps: new Map() };
  try {
    parseSet(set);
    const result = applyOperation(
      { issues: new Map([[issueId, record]]) },
      { opId, hlc: stamp, issueId, set },
    );
    record = result.state.issues.get(issueId) ?? record;
    const clocks: Issue['clocks'] = {};
    for (const [group, reg] of Object.entries(record.registers)) {
      if (reg) clocks[group as FieldGroup] = { hlc: reg.hlc, opId: reg.opId };
    }
    return { fields: issueFields(record), clocks, applied: result.applied, lost: result.lost };
  } catch (err) {
    if (err instanceof OperationError) {
      throw new BulwarkError(
        'bad_request',
        err.field ? `${err.field}: ${err.message}` : err.message,
      );
    }
    throw err;
  }
}

function registersOf(issue: Issue | null): Registers {
  if (!issue) return {};
  const registers: Record<string, unknown> = {};
  const current: Record<FieldGroup, unknown> = {
    title: issue.title,
    description: issue.description,
    position: { status: issue.status, rank: issue.rank },
    priority: issue.priority,
    labels: issue.labels,
    assignees: issue.assignees,
    dueDate: issue.dueDate,
    estimate: issue.estimate,
    checklist: issue.checklist,
  };
  // A value with no stamp (imported, or from before stamps) counts as written at the epoch: any real edit wins.
  const baseline = { hlc: formatHlc(createHlc(0, 0, 'server')), opId: 'baseline' };
  for (const group of Object.keys(current) as FieldGroup[]) {
    registers[group] = { value: current[group], ...(issue.clocks[group] ?? baseline) };
  }
  return registers as Registers;
}

function toIssueFields(fields: ReturnType<typeof issueFields>) {
  if (fields.status === null || fields.rank === null) {
    throw new BulwarkError('bad_request', 'status and rank: the card needs a column and a rank.');
  }
  return {
    title: fields.title,
    description: fields.description,
    status: fields.status,
    rank: fields.rank,
    priority: fields.priority,
    labels: [...fields.labels],
    assignees: [...fields.assignees],
    dueDate: fields.dueDate,
    estimate: fields.estimate,
    checklist: fields.checklist.map((c) => ({ ...c })),
  };
}

/** What the merge model cannot know: the board's columns, its priorities, who may be assigned. */
async function checkDomain(ctx: OpContext, fields: ReturnType<typeof issueFields>) {
  if (fields.status !== null) {
    const column = await new ColumnStore(ctx.storage).get(fields.status);
    if (column?.projectId !== ctx.projectId) {
      throw new BulwarkError('bad_request', 'status: no such column on this board.');
    }
  }
  if (fields.priority !== null && !(priorities as readonly string[]).includes(fields.priority)) {
    throw new BulwarkError('bad_request', `priority: one of ${priorities.join(', ')}, or null.`);
  }
  for (const userId of fields.assignees) {
    if ((await effectiveProjectRole(ctx.storage, userId, ctx.projectId)) === null) {
      throw new BulwarkError(
        'bad_request',
        `assignees: ${userId} is not a member of this project.`,
      );
    }
  }
}

async function liveIssue(ctx: OpContext, issues: IssueStore, id: string): Promise<Issue> {
  const issue = await issues.get(id, ctx.projectKey);
  if (issue && issue.projectId === ctx.projectId) return issue;
  if (await issues.isDeleted(id)) {
    throw new BulwarkError('conflict', 'That issue was deleted; the change was not applied.');
  }
  throw new BulwarkError('not_found', 'No such issue on this board.');
}

/** `APOLLO-7` or an id, of this project only: a reference to another project's issue is refused. */
async function referencedIssue(ctx: OpContext, issues: IssueStore, ref: string): Promise<Issue> {
  const byKey = /^([A-Z][A-Z0-9]{1,9})-([1-9][0-9]{0,8})$/.exec(ref);
  const found = byKey
    ? byKey[1] === ctx.projectKey
      ? await issues.byNumber(ctx.projectId, Number(byKey[2]), ctx.projectKey)
      : null
    : await issues.get(ref, ctx.projectKey);
  if (!found || found.projectId !== ctx.projectId) {
    throw new BulwarkError('bad_request', `${ref.slice(0, 64)} is not an issue of this project.`);
  }
  return found;
}

async function resolveMentions(ctx: OpContext, names: string[]): Promise<string[]> {
  const users = new UserStore(ctx.storage);
  const ids: string[] = [];
  for (const name of names.slice(0, 50)) {
    const user = await users.findByUsername(name);
    // Only people who can see the project are notified; others stay plain text.
    if (user && (await effectiveProjectRole(ctx.storage, user.id, ctx.projectId)) !== null) {
      ids.push(user.id);
    }
  }
  return ids;
}

async function wipWarnings(ctx: OpContext, columnId: string): Promise<{ warnings?: string[] }> {
  const column = await new ColumnStore(ctx.storage).get(columnId);
  if (!column || column.wipLimit === null) return {};
  const count = await new IssueStore(ctx.storage).countIn(columnId);
  return count > column.wipLimit
    ? {
        warnings: [
          `column "${column.name}" holds ${count} cards, over its WIP limit of ${column.wipLimit}`,
        ],
      }
    : {};
}

async function keysOf(ctx: OpContext, issues: IssueStore, ids: string[]): Promise<string> {
  const keys: string[] = [];
  for (const id of ids) keys.push((await issues.get(id, ctx.projectKey))?.key ?? id);
  return [...keys, keys[0]].join(' → ');
}
