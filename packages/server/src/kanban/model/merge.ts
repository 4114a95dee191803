/**
 * Field-by-field last-writer-wins merge of issue edits.
 *
 * Every field group of an issue (see fields.ts: each field alone, except
 * status + rank = "position") is a register holding the value of the write
 * with the greatest (HLC, opId). Taking the maximum is commutative,
 * associative and idempotent, so replicas that receive the same set of
 * operations in any order, any number of times, end in the same state. That
 * holds for the board state on its own; the applied-op ids kept per issue
 * only make a redelivered op report nothing (no second "lost" entry for the
 * server's history), they are not what makes the state converge.
 *
 * There is no create operation: the first op about an issue id creates it,
 * whichever op that turns out to be on each replica.
 *
 * Pure: the state is immutable and each call returns a new one sharing the
 * untouched parts. No I/O, no Node-only API (the browser runs this too).
 */

import {
  DEFAULT_FIELDS,
  FIELD_GROUPS,
  type Field,
  type FieldGroup,
  GROUP_FIELDS,
  type GroupValues,
  type GroupWrites,
  type IssueFields,
  isId,
  isPlainObject,
  OperationError,
  parseSet,
} from './fields.ts';
import { type HlcError, parseHlc } from './hlc.ts';
import { compareCards } from './rank.ts';

/** One group's current value and the write that set it. */
export interface Register<T> {
  readonly value: T;
  /** Canonical HLC string of the winning write. */
  readonly hlc: string;
  readonly opId: string;
}

export type Registers = { readonly [G in FieldGroup]?: Register<GroupValues[G]> };

export interface IssueRecord {
  readonly id: string;
  /** Only the groups ever written; the rest show their defaults. */
  readonly registers: Registers;
  /**
   * Op ids already applied to this issue → their HLC; the greatest
   * MAX_SEEN_OPS_PER_ISSUE by (HLC, opId) are kept. Keeping the greatest,
   * rather than the most recently received, makes this set the same on
   * every replica too.
   */
  readonly seenOps: ReadonlyMap<string, string>;
}

export interface BoardState {
  readonly issues: ReadonlyMap<string, IssueRecord>;
}

/** An edit as sent by a client. `hlc` is the canonical string form. */
export interface Operation {
  readonly opId: string;
  readonly hlc: string;
  readonly issueId: string;
  readonly set: Readonly<Partial<Record<Field, unknown>>>;
}

/** A write that did not (or no longer does) determine a group's value. */
export type LostWrite = {
  [G in FieldGroup]: {
    /** The group: a field name, or "position" for a move (status + rank). */
    readonly field: G;
    readonly value: GroupValues[G];
    readonly hlc: string;
    readonly opId: string;
    /** The HLC (and op) of the write that won. */
    readonly lostTo: string;
    readonly lostToOpId: string;
  };
}[FieldGroup];

export interface ApplyResult {
  readonly state: BoardState;
  /** Fields the op now determines (status and rank together for a move). */
  readonly applied: readonly Field[];
  /**
   * Losing writes: parts of this op beaten by stored newer writes, and stored
   * values this op overwrote. Over a whole delivery every write except each
   * group's final winner is reported exactly once, whatever the order, so
   * the server's record of conflicts does not depend on arrival order. A
   * loser may equal its winner (two people made the same change); the UI
   * decides whether that is worth showing.
   */
  readonly lost: readonly LostWrite[];
  /** The op id had been applied already; nothing changed. */
  readonly duplicate: boolean;
}

/**
 * Bound on the op ids remembered per issue. Forgetting one costs nothing in
 * correctness: a redelivered forgotten op changes no register (its writes
 * are equal to or older than what is stored) and can at worst repeat a
 * "lost" report. The server's op log is the durable dedupe.
 */
export const MAX_SEEN_OPS_PER_ISSUE = 1024;

export function emptyBoard(): BoardState {
  return Object.freeze({ issues: new Map<string, IssueRecord>() });
}

interface Stamp {
  readonly hlc: string;
  readonly opId: string;
}

/**
 * LWW order of writes. Canonical HLC strings compare like the timestamps;
 * the op id breaks the tie only a buggy or hostile client can cause (two
 * different ops with one HLC), so that even then all replicas agree.
 */
function compareStamps(a: Stamp, b: Stamp): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  if (a.opId !== b.opId) return a.opId < b.opId ? -1 : 1;
  return 0;
}

function validateOperation(op: unknown): { op: Operation; writes: GroupWrites } {
  if (!isPlainObject(op)) throw new OperationError('malformed', 'an operation must be an object');
  if (!isId(op.opId)) throw new OperationError('malformed', 'opId must match [A-Za-z0-9_-]{1,128}');
  if (!isId(op.issueId)) {
    throw new OperationError('malformed', 'issueId must match [A-Za-z0-9_-]{1,128}');
  }
  try {
    // parseHlc accepts only the canonical form, which is what makes string
    // comparison of stored HLCs valid.
    parseHlc(op.hlc);
  } catch (error) {
    throw new OperationError('malformed', `hlc: ${(error as HlcError).message}`);
  }
  const writes = parseSet(op.set);
  return { op: op as unknown as Operation, writes };
}

function rememberOp(seen: ReadonlyMap<string, string>, stamp: Stamp): Map<string, string> {
  const next = new Map(seen);
  next.set(stamp.opId, stamp.hlc);
  if (next.size > MAX_SEEN_OPS_PER_ISSUE) {
    let oldest: Stamp | undefined;
    for (const [opId, hlc] of next) {
      if (oldest === undefined || compareStamps({ hlc, opId }, oldest) < 0) oldest = { hlc, opId };
    }
    next.delete((oldest as Stamp).opId);
  }
  return next;
}

function lostWrite<G extends FieldGroup>(
  group: G,
  loser: Register<GroupValues[G]>,
  winner: Stamp,
): LostWrite {
  return {
    field: group,
    value: loser.value,
    hlc: loser.hlc,
    opId: loser.opId,
    lostTo: winner.hlc,
    lostToOpId: winner.opId,
  } as LostWrite;
}

/**
 * Applies one op (validated here; throws OperationError, changing nothing,
 * if it is malformed). For each group the op writes, the write with the
 * greater (HLC, opId) wins; the loser is reported. Check the op's HLC with
 * `HybridClock.receive` before calling this: that is where a timestamp from
 * too far in the future is refused.
 */
export function applyOperation(state: BoardState, operation: Operation): ApplyResult {
  const { op, writes } = validateOperation(operation);
  const existing = state.issues.get(op.issueId);
  const seenHlc = existing?.seenOps.get(op.opId);
  if (seenHlc !== undefined) {
    if (seenHlc !== op.hlc) {
      // Same id, different op: applying either would make replicas depend
      // on which arrived first. Op ids must be unique per op.
      throw new OperationError(
        'op-id-reused',
        `op ${op.opId} was applied with hlc ${seenHlc}, now received with ${op.hlc}`,
      );
    }
    return { state, applied: [], lost: [], duplicate: true };
  }

  const incoming: Stamp = { hlc: op.hlc, opId: op.opId };
  const registers: { -readonly [G in FieldGroup]?: Register<GroupValues[G]> } = {
    ...existing?.registers,
  };
  const applied: Field[] = [];
  const lost: LostWrite[] = [];
  for (const group of FIELD_GROUPS) {
    const value = writes[group];
    if (value === undefined) continue;
    const write = { value, ...incoming } as Register<GroupValues[typeof group]>;
    const stored = registers[group] as Register<GroupValues[typeof group]> | undefined;
    const order = stored === undefined ? 1 : compareStamps(incoming, stored);
    if (order > 0) {
      (registers as Record<FieldGroup, unknown>)[group] = Object.freeze(write);
      applied.push(...GROUP_FIELDS[group]);
      if (stored !== undefined) {
        lost.push(lostWrite(group, stored, incoming));
      }
    } else if (order < 0 && stored !== undefined) {
      lost.push(lostWrite(group, write, stored));
    }
    // order === 0: this very write is stored already (an op redelivered
    // after its id was forgotten); nothing to do.
  }

  const record: IssueRecord = Object.freeze({
    id: op.issueId,
    registers: Object.freeze(registers),
    seenOps: rememberOp(existing?.seenOps ?? new Map(), incoming),
  });
  const issues = new Map(state.issues);
  issues.set(op.issueId, record);
  return { state: Object.freeze({ issues }), applied, lost, duplicate: false };
}

/** Applies ops in order, discarding the reports. */
export function applyOperations(state: BoardState, ops: Iterable<Operation>): BoardState {
  let current = state;
  for (const op of ops) current = applyOperation(current, op).state;
  return current;
}

/** An issue's current field values, defaults for the groups never written. */
export function issueFields(record: IssueRecord): IssueFields {
  const r = record.registers;
  const d = DEFAULT_FIELDS;
  return {
    title: r.title?.value ?? d.title,
    description: r.description?.value ?? d.description,
    status: r.position?.value.status ?? d.status,
    rank: r.position?.value.rank ?? d.rank,
    priority: r.priority === undefined ? d.priority : r.priority.value,
    labels: r.labels?.value ?? d.labels,
    assignees: r.assignees?.value ?? d.assignees,
    dueDate: r.dueDate === undefined ? d.dueDate : r.dueDate.value,
    estimate: r.estimate === undefined ? d.estimate : r.estimate.value,
    checklist: r.checklist?.value ?? d.checklist,
  };
}

/**
 * The cards of each column (status) in display order, as issue ids. Issues
 * never placed in a column are not on the board. Which columns exist, and
 * in what order, is the board's configuration, not this merge.
 */
export function columns(state: BoardState): Map<string, string[]> {
  const byStatus = new Map<string, { id: string; rank: string }[]>();
  for (const record of state.issues.values()) {
    const position = record.registers.position?.value;
    if (position === undefined) continue;
    let cards = byStatus.get(position.status);
    if (cards === undefined) {
      cards = [];
      byStatus.set(position.status, cards);
    }
    cards.push({ id: record.id, rank: position.rank });
  }
  const result = new Map<string, string[]>();
  for (const status of [...byStatus.keys()].sort()) {
    const cards = (byStatus.get(status) ?? []).sort(compareCards);
    result.set(
      status,
      cards.map((c) => c.id),
    );
  }
  return result;
}
