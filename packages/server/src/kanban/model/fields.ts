/**
 * The mergeable fields of an issue, their value shapes and their validation.
 *
 * Values arrive from clients, so everything is checked here, before it can
 * reach a merge; accepted values are copied and frozen so that the caller
 * mutating its op afterwards cannot change a stored state.
 *
 * The merge unit is the field *group*: every field is its own group except
 * `status` and `rank`, which form the group `position`. A card's column and
 * its rank within that column only make sense together: merged separately,
 * two concurrent moves could leave a card with the column of one and the
 * rank of the other (a rank computed for a different column).
 */

import { validateRank } from './rank.ts';

export const FIELDS = [
  'title',
  'description',
  'status',
  'rank',
  'priority',
  'labels',
  'assignees',
  'dueDate',
  'estimate',
  'checklist',
] as const;

export type Field = (typeof FIELDS)[number];

export interface ChecklistItem {
  readonly id: string;
  readonly text: string;
  readonly done: boolean;
}

/** Where a card sits: its column (`status`) and its rank in that column. */
export interface Position {
  readonly status: string;
  readonly rank: string;
}

/** The value type of each merge group. */
export interface GroupValues {
  readonly title: string;
  readonly description: string;
  readonly position: Position;
  /** A priority level's id, or null for none. */
  readonly priority: string | null;
  /** Label ids; a set (no duplicates), kept in the order given. */
  readonly labels: readonly string[];
  /** User ids; a set (no duplicates), kept in the order given. */
  readonly assignees: readonly string[];
  /** A calendar date, `YYYY-MM-DD`, or null. */
  readonly dueDate: string | null;
  /** Effort in the board's unit (points, hours), or null. */
  readonly estimate: number | null;
  readonly checklist: readonly ChecklistItem[];
}

export type FieldGroup = keyof GroupValues;

export const FIELD_GROUPS: readonly FieldGroup[] = [
  'title',
  'description',
  'position',
  'priority',
  'labels',
  'assignees',
  'dueDate',
  'estimate',
  'checklist',
];

/** The fields a group writes, in FIELDS order. */
export const GROUP_FIELDS: { readonly [G in FieldGroup]: readonly Field[] } = {
  title: ['title'],
  description: ['description'],
  position: ['status', 'rank'],
  priority: ['priority'],
  labels: ['labels'],
  assignees: ['assignees'],
  dueDate: ['dueDate'],
  estimate: ['estimate'],
  checklist: ['checklist'],
};

/**
 * Size limits. Every value is stored per write and broadcast to the board,
 * so each is bounded; the numbers are generous for people, small for abuse.
 */
export const LIMITS = {
  titleLength: 500,
  descriptionLength: 100_000,
  labels: 100,
  assignees: 100,
  checklistItems: 500,
  checklistTextLength: 1_000,
  maxEstimate: 1_000_000,
} as const;

/** Ids (issues, ops, columns, labels, users, ...): UUIDs and the like. */
const ID = /^[A-Za-z0-9_-]{1,128}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export type OperationErrorCode =
  /** Not an object of the expected shape, or a bad id or timestamp. */
  | 'malformed'
  /** `set` names a field that is not mergeable. */
  | 'unknown-field'
  /** A value of the wrong type, size or format. */
  | 'invalid-value'
  /** `set` holds only one of status and rank. */
  | 'partial-position'
  /** An op id already applied with a different timestamp. */
  | 'op-id-reused';

/** An operation refused before it touched any state. */
export class OperationError extends Error {
  override name = 'OperationError';
  readonly code: OperationErrorCode;
  readonly field: Field | undefined;

  constructor(code: OperationErrorCode, message: string, field?: Field) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function invalid(field: Field, message: string): OperationError {
  return new OperationError('invalid-value', `${field}: ${message}`, field);
}

function text(field: Field, value: unknown, maxLength: number): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  if (value.length > maxLength) throw invalid(field, `at most ${maxLength} characters`);
  return value;
}

function id(field: Field, value: unknown): string {
  if (!isId(value)) throw invalid(field, 'must be an id matching [A-Za-z0-9_-]{1,128}');
  return value;
}

function idSet(field: Field, value: unknown, maxItems: number): readonly string[] {
  if (!Array.isArray(value)) throw invalid(field, 'must be an array of ids');
  if (value.length > maxItems) throw invalid(field, `at most ${maxItems} entries`);
  const ids = value.map((item) => id(field, item));
  if (new Set(ids).size !== ids.length) throw invalid(field, 'must not repeat an id');
  return Object.freeze(ids);
}

function date(field: Field, value: unknown): string | null {
  if (value === null) return null;
  const match = typeof value === 'string' ? DATE.exec(value) : null;
  if (match === null) throw invalid(field, 'must be a date "YYYY-MM-DD" or null');
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  // Round-trip through UTC (pure arithmetic, no time zone) to refuse 2025-02-30.
  const parsed = new Date(Date.UTC(year, month - 1, day));
  if (
    parsed.getUTCFullYear() !== year ||
    parsed.getUTCMonth() !== month - 1 ||
    parsed.getUTCDate() !== day
  ) {
    throw invalid(field, `${value as string} is not a calendar date`);
  }
  return value as string;
}

function checklist(value: unknown): readonly ChecklistItem[] {
  if (!Array.isArray(value)) throw invalid('checklist', 'must be an array');
  if (value.length > LIMITS.checklistItems) {
    throw invalid('checklist', `at most ${LIMITS.checklistItems} items`);
  }
  const items = value.map((item): ChecklistItem => {
    if (!isPlainObject(item)) throw invalid('checklist', 'items must be objects');
    const extra = Object.keys(item).filter((k) => k !== 'id' && k !== 'text' && k !== 'done');
    if (extra.length > 0)
      throw invalid('checklist', `unknown item key ${JSON.stringify(extra[0])}`);
    if (typeof item.done !== 'boolean') throw invalid('checklist', 'item.done must be a boolean');
    // A fresh object: only the known keys, in a fixed order.
    return Object.freeze({
      id: id('checklist', item.id),
      text: text('checklist', item.text, LIMITS.checklistTextLength),
      done: item.done,
    });
  });
  if (new Set(items.map((i) => i.id)).size !== items.length) {
    throw invalid('checklist', 'item ids must be unique');
  }
  return Object.freeze(items);
}

/** Validates one group's value; returns a frozen copy. Throws OperationError. */
function groupValue<G extends FieldGroup>(group: G, set: Record<string, unknown>): GroupValues[G] {
  const value = set[group];
  let result: GroupValues[FieldGroup];
  switch (group) {
    case 'title':
      result = text('title', value, LIMITS.titleLength);
      break;
    case 'description':
      result = text('description', value, LIMITS.descriptionLength);
      break;
    case 'position': {
      let rank: string;
      try {
        rank = validateRank(set.rank);
      } catch (error) {
        throw invalid('rank', (error as Error).message);
      }
      result = Object.freeze({ status: id('status', set.status), rank });
      break;
    }
    case 'priority':
      result = value === null ? null : id('priority', value);
      break;
    case 'labels':
      result = idSet('labels', value, LIMITS.labels);
      break;
    case 'assignees':
      result = idSet('assignees', value, LIMITS.assignees);
      break;
    case 'dueDate':
      result = date('dueDate', value);
      break;
    case 'estimate':
      if (value === null) {
        result = null;
      } else if (
        typeof value === 'number' &&
        Number.isFinite(value) &&
        value >= 0 &&
        value <= LIMITS.maxEstimate
      ) {
        // -0 and 0 would compare equal but serialise differently elsewhere.
        result = value === 0 ? 0 : value;
      } else {
        throw invalid('estimate', `must be a number in 0..${LIMITS.maxEstimate} or null`);
      }
      break;
    case 'checklist':
      result = checklist(value);
      break;
    default:
      throw new OperationError('unknown-field', `unknown field group ${String(group)}`);
  }
  return result as GroupValues[G];
}

/** The validated writes of one op, by group. */
export type GroupWrites = { readonly [G in FieldGroup]?: GroupValues[G] };

/**
 * Validates an op's `set` and regroups it. Absent keys and keys set to
 * `undefined` are not written; `status` and `rank` must come together.
 * Throws OperationError on the first problem, so a bad op changes nothing.
 */
export function parseSet(set: unknown): GroupWrites {
  if (!isPlainObject(set)) throw new OperationError('malformed', 'set must be an object');
  const present = new Set<Field>();
  for (const [key, value] of Object.entries(set)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw new OperationError('unknown-field', `${JSON.stringify(key)} is not a mergeable field`);
    }
    if (value !== undefined) present.add(key as Field);
  }
  if (present.has('status') !== present.has('rank')) {
    const missing: Field = present.has('status') ? 'rank' : 'status';
    throw new OperationError(
      'partial-position',
      `status and rank move together: set both or neither (missing ${missing})`,
      missing,
    );
  }
  const writes: { [G in FieldGroup]?: GroupValues[G] } = {};
  for (const group of FIELD_GROUPS) {
    if (!GROUP_FIELDS[group].some((f) => present.has(f))) continue;
    // Assigning through a generic key loses the key/value correlation in TS.
    (writes as Record<FieldGroup, unknown>)[group] = groupValue(group, set);
  }
  return Object.freeze(writes);
}

/** An issue's fields as the UI shows them; unset fields have their default. */
export interface IssueFields {
  readonly title: string;
  readonly description: string;
  /** Null until the card is first placed in a column. */
  readonly status: string | null;
  readonly rank: string | null;
  readonly priority: string | null;
  readonly labels: readonly string[];
  readonly assignees: readonly string[];
  readonly dueDate: string | null;
  readonly estimate: number | null;
  readonly checklist: readonly ChecklistItem[];
}

export const DEFAULT_FIELDS: IssueFields = Object.freeze({
  title: '',
  description: '',
  status: null,
  rank: null,
  priority: null,
  labels: Object.freeze([]),
  assignees: Object.freeze([]),
  dueDate: null,
  estimate: null,
  checklist: Object.freeze([]),
});
