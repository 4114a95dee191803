/**
 * The board as the web client holds it, and every edit as the server's
 * idempotent board operation (docs/kanban.md, "Offline editing"). Pure: no
 * React, no fetch, no storage, so node:test runs it and the screens, the
 * outbox sender and the optimistic view all share one meaning of an edit.
 *
 * Optimistic view = the last board the server sent + the operations not yet
 * confirmed, applied with the server's own rule: per field group, the write
 * with the greatest HLC wins (an op that already lost on the server does not
 * show as if it had won).
 */
import { generateKeyBetween } from 'fractional-indexing';

// --- the server's shapes (packages/server/src/kanban/issues.ts, board-routes.ts) ---

export const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const LINK_KINDS = ['blocks', 'relates', 'duplicates'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

export interface ChecklistItem {
  id: string;
  text: string;
  done: boolean;
}

export type FieldGroup =
  | 'title'
  | 'description'
  | 'position'
  | 'priority'
  | 'labels'
  | 'assignees'
  | 'dueDate'
  | 'estimate'
  | 'checklist';

export interface Issue {
  id: string;
  projectId: string;
  number: number;
  /** `APOLLO-42`; empty while a card made here is not yet on the server. */
  key: string;
  title: string;
  description: string;
  status: string;
  rank: string;
  priority: string | null;
  labels: string[];
  assignees: string[];
  dueDate: string | null;
  estimate: number | null;
  checklist: ChecklistItem[];
  clocks: Partial<Record<FieldGroup, { hlc: string; opId: string }>>;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface Column {
  id: string;
  name: string;
  rank: string;
  wipLimit: number | null;
  /** Every card in the column (the board sends at most `perColumn` of them). */
  count: number;
  overWipLimit: boolean;
  issues: Issue[];
}

export interface Board {
  project: { id: string; key: string };
  columns: Column[];
}

export interface IssueSet {
  title?: string;
  description?: string;
  status?: string;
  rank?: string;
  priority?: string | null;
  labels?: string[];
  assignees?: string[];
  dueDate?: string | null;
  estimate?: number | null;
  checklist?: ChecklistItem[];
}

interface OpBase {
  /** 8-128 of [A-Za-z0-9_-]; the server answers a retried op with its first answer. */
  opId: string;
  /** `<13-digit ms>-<5-digit counter>-<node>` */
  hlc: string;
  issueId: string;
}

/** `POST /v1/projects/:projectId/ops` `{ops: BoardOp[]}` (packages/server/src/kanban/operations.ts). */
export type BoardOp =
  | (OpBase & { kind: 'issue.create'; set: IssueSet })
  | (OpBase & { kind: 'issue.update'; set: IssueSet })
  | (OpBase & { kind: 'issue.delete' })
  | (OpBase & { kind: 'comment.add'; body: string })
  | (OpBase & { kind: 'link.add'; to: string; link: LinkKind });

export interface LostWrite {
  field: string;
  value: unknown;
  hlc: string;
  opId: string;
  lostTo: string;
}

export interface OpResult {
  opId: string;
  status: 'applied' | 'duplicate' | 'rejected';
  issueId: string;
  conflicts?: LostWrite[];
  warnings?: string[];
  error?: { code: string; message: string };
}

/** What the outbox's 'board.ops' items carry. */
export interface BoardOpsPayload {
  projectId: string;
  ops: BoardOp[];
}

// --- hybrid logical clock (the client half of kanban/model/hlc.ts) ---

const HLC_TEXT = /^(\d{13})-(\d{5})-([A-Za-z0-9_-]{1,64})$/;

export function formatHlc(wallMs: number, counter: number, node: string): string {
  return `${String(wallMs).padStart(13, '0')}-${String(counter).padStart(5, '0')}-${node}`;
}

export function parseHlc(text: string): { wallMs: number; counter: number; node: string } | null {
  const match = HLC_TEXT.exec(text);
  if (!match) return null;
  return { wallMs: Number(match[1]), counter: Number(match[2]), node: match[3] as string };
}

/**
 * One tab's clock. Every stamp is greater than every stamp it issued or saw:
 * seeing the server's stamps (`observe`) keeps a tab whose wall clock runs
 * behind from losing every concurrent edit it makes.
 */
export class ClientClock {
  readonly node: string;
  readonly #wall: () => number;
  #wallMs = 0;
  #counter = -1;

  constructor(node: string, wall: () => number = Date.now) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(node)) throw new Error('HLC node id: [A-Za-z0-9_-]{1,64}');
    this.node = node;
    this.#wall = wall;
  }

  now(): string {
    const physical = Math.floor(this.#wall());
    if (physical > this.#wallMs) {
      this.#wallMs = physical;
      this.#counter = 0;
    } else {
      this.#counter += 1;
    }
    if (this.#counter > 99_999) {
      this.#wallMs += 1;
      this.#counter = 0;
    }
    return formatHlc(this.#wallMs, this.#counter, this.node);
  }

  /** Take in a stamp the server accepted (it is never more than 60 s ahead of the server). */
  observe(stamp: string): void {
    const seen = parseHlc(stamp);
    if (!seen) return;
    if (
      seen.wallMs > this.#wallMs ||
      (seen.wallMs === this.#wallMs && seen.counter > this.#counter)
    ) {
      this.#wallMs = seen.wallMs;
      this.#counter = seen.counter;
    }
  }
}

/** Every stamp a board carries, for `ClientClock.observe`. */
export function stampsOf(board: Board): string[] {
  const stamps: string[] = [];
  for (const column of board.columns)
    for (const issue of column.issues)
      for (const clock of Object.values(issue.clocks)) if (clock) stamps.push(clock.hlc);
  return stamps;
}

// --- ranks (fractional indexing, as kanban/model/rank.ts) ---

export const MAX_RANK_LENGTH = 64;

export function compareCards(
  a: { id: string; rank: string },
  b: { id: string; rank: string },
): number {
  if (a.rank !== b.rank) return a.rank < b.rank ? -1 : 1;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

/**
 * The rank that puts a card at `index` among `ranks` (the other cards of the
 * column, in display order). Equal neighbouring ranks (two concurrent inserts
 * into one gap) have nothing between them: the card goes after the run.
 */
export function rankForIndex(ranks: readonly string[], index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > ranks.length)
    throw new RangeError(`index must be in 0..${ranks.length}`);
  const before = index > 0 ? (ranks[index - 1] as string) : null;
  let next = index;
  while (before !== null && next < ranks.length && ranks[next] === before) next++;
  const after = next < ranks.length ? (ranks[next] as string) : null;
  const rank = generateKeyBetween(before, after);
  if (rank.length > MAX_RANK_LENGTH)
    throw new Error('This spot has been reordered too often; drop the card one place up or down.');
  return rank;
}

// --- reading the board ---

export function findIssue(board: Board, issueId: string): Issue | undefined {
  for (const column of board.columns) {
    const found = column.issues.find((i) => i.id === issueId);
    if (found) return found;
  }
  return undefined;
}

export function columnOf(board: Board, issueId: string): Column | undefined {
  return board.columns.find((c) => c.issues.some((i) => i.id === issueId));
}

/** How a card is named to people: its key, or its title while it is not yet on the server. */
export function issueName(issue: Pick<Issue, 'key' | 'title'>): string {
  return issue.key || `“${truncate(issue.title, 40)}”`;
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// --- optimistic apply ---

const GROUP_OF: Record<keyof IssueSet, FieldGroup> = {
  title: 'title',
  description: 'description',
  status: 'position',
  rank: 'position',
  priority: 'priority',
  labels: 'labels',
  assignees: 'assignees',
  dueDate: 'dueDate',
  estimate: 'estimate',
  checklist: 'checklist',
};

function wins(
  op: { hlc: string; opId: string },
  stored: { hlc: string; opId: string } | undefined,
) {
  if (!stored) return true;
  if (op.hlc !== stored.hlc) return op.hlc > stored.hlc;
  return op.opId >= stored.opId;
}

/** The fields of `set` an op stamped `hlc` would win against `issue`'s clocks, applied. */
export function applySet(issue: Issue, set: IssueSet, stamp: { hlc: string; opId: string }): Issue {
  const next: Issue = { ...issue, clocks: { ...issue.clocks } };
  const groups = new Set<FieldGroup>();
  for (const key of Object.keys(set) as (keyof IssueSet)[]) {
    if (set[key] === undefined || !(key in GROUP_OF)) continue;
    groups.add(GROUP_OF[key]);
  }
  for (const group of groups) {
    if (!wins(stamp, issue.clocks[group])) continue;
    if (group === 'position') {
      if (set.status === undefined || set.rank === undefined) continue;
      next.status = set.status;
      next.rank = set.rank;
    } else {
      (next as unknown as Record<string, unknown>)[group] = (set as Record<string, unknown>)[group];
    }
    next.clocks[group] = { hlc: stamp.hlc, opId: stamp.opId };
  }
  return next;
}

function placeholderIssue(board: Board, op: BoardOp & { kind: 'issue.create' }, me: string): Issue {
  const now = new Date(Number(op.hlc.slice(0, 13)) || Date.now()).toISOString();
  return {
    id: op.issueId,
    projectId: board.project.id,
    number: 0,
    key: '',
    title: '',
    description: '',
    status: '',
    rank: '',
    priority: null,
    labels: [],
    assignees: [],
    dueDate: null,
    estimate: null,
    checklist: [],
    clocks: {},
    createdBy: me,
    createdAt: now,
    updatedAt: now,
  };
}

function withCounts(column: Column, issues: Issue[], delta: number): Column {
  const count = Math.max(issues.length, column.count + delta);
  return {
    ...column,
    issues,
    count,
    overWipLimit: column.wipLimit !== null && count > column.wipLimit,
  };
}

/**
 * The board with `ops` applied (in order, each field only where it wins by
 * HLC). Unknown issues (deleted elsewhere) and unknown columns leave the
 * board as it is: the server will say what happened to the op.
 */
export function applyOps(board: Board, ops: readonly BoardOp[], me = ''): Board {
  let current = board;
  for (const op of ops) current = applyOp(current, op, me);
  return current;
}

export function applyOp(board: Board, op: BoardOp, me = ''): Board {
  if (op.kind === 'comment.add' || op.kind === 'link.add') return board;
  const from = columnOf(board, op.issueId);
  const existing = from?.issues.find((i) => i.id === op.issueId);
  if (op.kind === 'issue.delete') {
    if (!from) return board;
    return {
      ...board,
      columns: board.columns.map((c) =>
        c === from
          ? withCounts(
              c,
              c.issues.filter((i) => i.id !== op.issueId),
              -1,
            )
          : c,
      ),
    };
  }
  let issue: Issue;
  let set = op.set;
  if (existing) {
    issue = existing;
  } else if (op.kind === 'issue.create') {
    issue = placeholderIssue(board, op, me);
    if (set.status === undefined || set.rank === undefined) {
      // The server puts a card without a position at the bottom of the first column.
      const first = board.columns[0];
      if (!first) return board;
      const last = first.issues.at(-1);
      set = { ...set, status: first.id, rank: rankForIndex(last ? [last.rank] : [], last ? 1 : 0) };
    }
  } else {
    return board;
  }
  const updated = applySet(issue, set, op);
  if (!board.columns.some((c) => c.id === updated.status)) return board;
  return {
    ...board,
    columns: board.columns.map((c) => {
      const inHere = c === from;
      const goesHere = c.id === updated.status;
      if (!inHere && !goesHere) return c;
      const others = c.issues.filter((i) => i.id !== updated.id);
      if (!goesHere) return withCounts(c, others, -1);
      const issues = [...others, updated].sort(compareCards);
      return withCounts(c, issues, inHere ? 0 : 1);
    }),
  };
}

/** One issue's fields with the pending ops about it applied (the issue page). */
export function applyOpsToIssue(issue: Issue, ops: readonly BoardOp[]): Issue | null {
  let current: Issue | null = issue;
  for (const op of ops) {
    if (!current || op.issueId !== issue.id) continue;
    if (op.kind === 'issue.delete') current = null;
    else if (op.kind === 'issue.update' || op.kind === 'issue.create')
      current = applySet(current, op.set, op);
  }
  return current;
}

// --- building operations ---

export interface OpFactory {
  opId(): string;
  hlc(): string;
}

export function createOp(
  f: OpFactory,
  issueId: string,
  fields: { title: string; description?: string },
): BoardOp {
  const set: IssueSet = { title: fields.title.trim() };
  if (fields.description?.trim()) set.description = fields.description;
  return { kind: 'issue.create', opId: f.opId(), hlc: f.hlc(), issueId, set };
}

export function updateOp(f: OpFactory, issueId: string, set: IssueSet): BoardOp {
  return { kind: 'issue.update', opId: f.opId(), hlc: f.hlc(), issueId, set };
}

export function deleteOp(f: OpFactory, issueId: string): BoardOp {
  return { kind: 'issue.delete', opId: f.opId(), hlc: f.hlc(), issueId };
}

export function commentOp(f: OpFactory, issueId: string, body: string): BoardOp {
  return { kind: 'comment.add', opId: f.opId(), hlc: f.hlc(), issueId, body };
}

export function linkOp(f: OpFactory, issueId: string, to: string, link: LinkKind): BoardOp {
  return {
    kind: 'link.add',
    opId: f.opId(),
    hlc: f.hlc(),
    issueId,
    to: to.trim().toUpperCase(),
    link,
  };
}

/**
 * Where a card lands when dropped at `index` of column `toColumnId` (the
 * index among that column's other cards, in display order), or null when
 * that is where it already is.
 */
export function planMove(
  board: Board,
  issueId: string,
  toColumnId: string,
  index: number,
): { status: string; rank: string } | null {
  const target = board.columns.find((c) => c.id === toColumnId);
  const issue = findIssue(board, issueId);
  if (!target || !issue) return null;
  const others = target.issues.filter((i) => i.id !== issueId);
  const at = Math.max(0, Math.min(index, others.length));
  if (issue.status === toColumnId && target.issues.findIndex((i) => i.id === issueId) === at)
    return null;
  return {
    status: toColumnId,
    rank: rankForIndex(
      others.map((i) => i.rank),
      at,
    ),
  };
}

/** A move as an update of status and rank together, or null when nothing moves. */
export function moveOp(
  f: OpFactory,
  board: Board,
  issueId: string,
  toColumnId: string,
  index: number,
): BoardOp | null {
  const position = planMove(board, issueId, toColumnId, index);
  return position ? updateOp(f, issueId, position) : null;
}

/** The card one place up (-1) or down (+1) in its column, or null at the edge. */
export function nudgeOp(f: OpFactory, board: Board, issueId: string, by: -1 | 1): BoardOp | null {
  const column = columnOf(board, issueId);
  if (!column) return null;
  const at = column.issues.findIndex((i) => i.id === issueId);
  const to = at + by;
  if (to < 0 || to >= column.issues.length) return null;
  return moveOp(f, board, issueId, column.id, to);
}

// --- drag and drop bookkeeping (card ids per column while a drag is on) ---

export type Order = Record<string, string[]>;

export function orderOf(board: Board): Order {
  const order: Order = {};
  for (const column of board.columns) order[column.id] = column.issues.map((i) => i.id);
  return order;
}

export function containerOf(order: Order, id: string): string | undefined {
  if (id in order) return id;
  return Object.keys(order).find((column) => order[column]?.includes(id));
}

/**
 * The order with `activeId` moved to where `overId` (a card or a column) is.
 * Onto a card: its place; onto a column: the end of that column.
 */
export function moveInOrder(order: Order, activeId: string, overId: string): Order {
  const from = containerOf(order, activeId);
  const to = containerOf(order, overId);
  if (!from || !to) return order;
  const source = [...(order[from] ?? [])];
  const oldIndex = source.indexOf(activeId);
  if (from === to) {
    const newIndex = overId === to ? source.length - 1 : source.indexOf(overId);
    if (newIndex < 0 || newIndex === oldIndex) return order;
    source.splice(oldIndex, 1);
    source.splice(newIndex, 0, activeId);
    return { ...order, [from]: source };
  }
  source.splice(oldIndex, 1);
  const target = [...(order[to] ?? [])];
  const overIndex = overId === to ? target.length : target.indexOf(overId);
  target.splice(overIndex < 0 ? target.length : overIndex, 0, activeId);
  return { ...order, [from]: source, [to]: target };
}

// --- filters, labels ---

const LABEL = /^[A-Za-z0-9_-]{1,128}$/;

/** Labels typed as "bug, needs-review": each one word of letters, digits, - or _. */
export function parseLabels(text: string): { labels: string[]; problem: string | null } {
  const labels = [
    ...new Set(
      text
        .split(/[,\s]+/)
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ];
  const bad = labels.find((l) => !LABEL.test(l));
  return {
    labels,
    problem: bad
      ? `“${truncate(bad, 30)}” is not a label: use letters, digits, - and _ only (no spaces).`
      : labels.length > 100
        ? 'At most 100 labels.'
        : null,
  };
}

/** The board showing only the given issue ids (the result of a search); null shows all. */
export function filterBoard(board: Board, visible: ReadonlySet<string> | null): Board {
  if (!visible) return board;
  return {
    ...board,
    columns: board.columns.map((c) => ({
      ...c,
      issues: c.issues.filter((i) => visible.has(i.id) || i.key === ''),
    })),
  };
}

// --- what the outbox holds ---

/** The structural part of an outbox item this module reads. */
export interface OutboxLike {
  kind: string;
  scope: string;
  state: 'queued' | 'sending' | 'conflict' | 'failed';
  payload: unknown;
  problem: string | null;
}

export function isBoardOpsPayload(value: unknown): value is BoardOpsPayload {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as BoardOpsPayload).projectId === 'string' &&
    Array.isArray((value as BoardOpsPayload).ops)
  );
}

export interface PendingView {
  /** Ops still to be sent, oldest first: shown optimistically. */
  ops: BoardOp[];
  /** Issues with a change not yet sent. */
  queued: Set<string>;
  /** Issues with a change the server refused, and its words. */
  refused: Map<string, string>;
}

export function pendingFromOutbox(items: readonly OutboxLike[], projectId: string): PendingView {
  const view: PendingView = { ops: [], queued: new Set(), refused: new Map() };
  for (const item of items) {
    if (item.kind !== 'board.ops' || item.scope !== projectId) continue;
    if (!isBoardOpsPayload(item.payload)) continue;
    for (const op of item.payload.ops) {
      if (item.state === 'queued' || item.state === 'sending') {
        view.ops.push(op);
        view.queued.add(op.issueId);
      } else {
        view.refused.set(op.issueId, item.problem ?? 'The server did not apply this change.');
      }
    }
  }
  return view;
}

// --- the server's answer, in words ---

const FIELD_WORDS: Record<string, string> = {
  title: 'title',
  description: 'description',
  position: 'column and place',
  priority: 'priority',
  labels: 'labels',
  assignees: 'assignees',
  dueDate: 'due date',
  estimate: 'estimate',
  checklist: 'checklist',
};

export type BatchOutcome = { status: 'sent' } | { status: 'conflict'; message: string };

/**
 * applied / duplicate → sent; a refused op (deleted issue, bad value) or a
 * write that lost to a later edit → conflict, said plainly.
 */
export function outcomeOf(ops: readonly BoardOp[], results: readonly OpResult[]): BatchOutcome {
  const problems: string[] = [];
  for (const result of results) {
    if (result.status === 'rejected') {
      const op = ops.find((o) => o.opId === result.opId);
      const what = op ? describeOpKind(op) : 'A change';
      problems.push(
        `${what} was not applied: ${result.error?.message ?? 'the server refused it.'}`,
      );
    } else if (result.conflicts && result.conflicts.length > 0) {
      const fields = [...new Set(result.conflicts.map((c) => FIELD_WORDS[c.field] ?? c.field))];
      problems.push(
        `Someone changed the ${fields.join(', ')} of this issue after you did; their change was kept and yours is in the issue's history.`,
      );
    }
  }
  return problems.length > 0
    ? { status: 'conflict', message: problems.join(' ') }
    : { status: 'sent' };
}

function describeOpKind(op: BoardOp): string {
  switch (op.kind) {
    case 'issue.create':
      return `Creating “${truncate(op.set.title ?? '', 40)}”`;
    case 'issue.update':
      return op.set.status !== undefined ? 'The move' : 'The edit';
    case 'issue.delete':
      return 'The deletion';
    case 'comment.add':
      return 'The comment';
    case 'link.add':
      return `The link to ${op.to}`;
  }
}

/** Every warning in the answer (a column over its WIP limit, a "blocks" cycle). */
export function warningsOf(results: readonly OpResult[]): string[] {
  return results.flatMap((r) => r.warnings ?? []);
}

export interface QuickFilter {
  q: string;
  label: string;
  assignee: string;
}

export function isFilterEmpty(f: QuickFilter): boolean {
  return !f.q.trim() && !f.label.trim() && !f.assignee;
}

/** The issues search's rule (kanban/search.ts), for when the server cannot be asked. */
export function matchesQuickFilter(issue: Issue, f: QuickFilter): boolean {
  const q = f.q.trim().toLowerCase();
  if (q && !`${issue.key} ${issue.title} ${issue.description}`.toLowerCase().includes(q))
    return false;
  const label = f.label.trim().toLowerCase();
  if (label && !issue.labels.some((l) => l.toLowerCase() === label)) return false;
  if (f.assignee && !issue.assignees.includes(f.assignee)) return false;
  return true;
}

/** The query string of `GET /v1/projects/:projectId/issues` for a quick filter. */
export function filterQuery(f: QuickFilter): string {
  const params = new URLSearchParams();
  if (f.q.trim()) params.set('q', f.q.trim().slice(0, 200));
  if (f.label.trim()) params.set('label', f.label.trim().slice(0, 50));
  if (f.assignee) params.set('assignee', f.assignee);
  params.set('limit', '500');
  return params.toString();
}

/**
 * Where, among all of a column's other cards, a card dropped between
 * `visibleOrder`'s neighbours goes (a filtered board hides some cards).
 */
export function indexAmong(
  allOthers: readonly string[],
  visibleOrder: readonly string[],
  activeId: string,
): number {
  const at = visibleOrder.indexOf(activeId);
  const before = at > 0 ? visibleOrder[at - 1] : undefined;
  if (before !== undefined && allOthers.includes(before)) return allOthers.indexOf(before) + 1;
  const after = at >= 0 ? visibleOrder[at + 1] : undefined;
  if (after !== undefined && allOthers.includes(after)) return allOthers.indexOf(after);
  return allOthers.length;
}
