/**
 * Card order within a column: fractional ranks.
 *
 * Each card carries a rank string; a column shows its cards sorted by rank.
 * Moving or inserting a card gives only that card a new rank between its new
 * neighbours' ranks, so one move is one write to one card and concurrent
 * moves of different cards never conflict. Existing cards are never
 * renumbered.
 *
 * Ranks come from `fractional-indexing` with its default alphabet: a head
 * letter (A-Z, a-z) that encodes the length of the integer part, then base-62
 * digits (0-9, A-Z, a-z), e.g. "a0", "a1V", "Zz". They compare by plain
 * code-unit order (`<`), never `localeCompare`, which would not match.
 *
 * Two replicas inserting into the same gap concurrently compute the same
 * rank, so ranks are not unique: `compareCards` breaks ties by card id so
 * that every replica still shows one and the same order.
 */

import { generateKeyBetween, generateNKeysBetween } from 'fractional-indexing';

/**
 * The longest rank accepted from a client or generated here. Every rank is
 * stored and sent with its card, and a rank between two ranks can be one
 * character longer than they are: without a bound, a client could grow ranks
 * (and the server's storage and bandwidth) without end. Realistic editing
 * stays far below it (see rank.test.ts); inserting some 300 times into the very
 * same gap reaches it, at which point `rankBetween` refuses (`rank-too-long`).
 */
export const MAX_RANK_LENGTH = 64;

/** Most keys `ranksBetween` makes in one call (a pasted or imported batch). */
export const MAX_RANKS_PER_CALL = 10_000;

export type RankErrorCode =
  /** Not a rank fractional-indexing could have produced. */
  | 'invalid-rank'
  /** `before` is not strictly less than `after`. */
  | 'bounds-out-of-order'
  /** The rank between the bounds would exceed MAX_RANK_LENGTH. */
  | 'rank-too-long'
  /** A bad count or index argument. */
  | 'invalid-argument';

export class RankError extends Error {
  override name = 'RankError';
  readonly code: RankErrorCode;

  constructor(code: RankErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const HEADS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62 = /^[0-9A-Za-z]+$/;
// fractional-indexing reserves the smallest integer ("A" then 26 zeros):
// nothing could ever be inserted before it.
const SMALLEST_INTEGER = `A${'0'.repeat(26)}`;

/**
 * Why `rank` is not a valid rank, or null if it is. Mirrors the library's own
 * key validation (which it does not export), plus charset and length, so that
 * every accepted rank can be passed back to `rankBetween` without throwing.
 */
function rankProblem(rank: unknown): string | null {
  if (typeof rank !== 'string') return 'a rank must be a string';
  if (rank.length === 0) return 'a rank must not be empty';
  if (rank.length > MAX_RANK_LENGTH) {
    return `a rank is at most ${MAX_RANK_LENGTH} characters (got ${rank.length})`;
  }
  if (!BASE62.test(rank)) return 'a rank holds only the base-62 digits 0-9, A-Z, a-z';
  // The head letter encodes the integer part's length: "a".."z" mean 2..27
  // characters (head included), "Z".."A" mean 2..27 for negative integers.
  const head = HEADS.indexOf(rank.charAt(0));
  if (head < 0) return 'a rank starts with a letter';
  const integerLength = head < 26 ? 27 - head : head - 24;
  if (rank.length < integerLength) {
    return `a rank starting with "${rank.charAt(0)}" has at least ${integerLength} characters`;
  }
  if (rank === SMALLEST_INTEGER) {
    return 'the smallest integer rank is reserved';
  }
  // A trailing zero in the fractional part would make two spellings of one
  // position ("a1V" and "a1V0"), with no key between them.
  if (rank.length > integerLength && rank.endsWith('0')) {
    return 'a rank does not end in 0 after its integer part';
  }
  return null;
}

export function isValidRank(rank: unknown): rank is string {
  return rankProblem(rank) === null;
}

/** Returns the rank if valid (e.g. received from a client); throws RankError. */
export function validateRank(rank: unknown): string {
  const problem = rankProblem(rank);
  if (problem !== null) throw new RankError('invalid-rank', problem);
  return rank as string;
}

/** Code-unit order, the order ranks are designed for. */
export function compareRanks(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function checkBounds(before: string | null, after: string | null): void {
  if (before !== null) validateRank(before);
  if (after !== null) validateRank(after);
  // The library silently swaps reversed bounds; a caller passing them reversed
  // has computed the wrong neighbours, so say so instead.
  if (before !== null && after !== null && before >= after) {
    throw new RankError(
      'bounds-out-of-order',
      `no rank lies between ${JSON.stringify(before)} and ${JSON.stringify(after)}`,
    );
  }
}

function checkLength(rank: string): string {
  if (rank.length > MAX_RANK_LENGTH) {
    throw new RankError(
      'rank-too-long',
      `the rank here would be ${rank.length} characters (at most ${MAX_RANK_LENGTH}); ` +
        'this gap has been split too often',
    );
  }
  return rank;
}

/**
 * A rank strictly between `before` and `after`; null means the start or end
 * of the column. Both null gives the first rank of an empty column.
 */
export function rankBetween(before: string | null, after: string | null): string {
  checkBounds(before, after);
  return checkLength(generateKeyBetween(before, after));
}

/**
 * `n` ascending ranks strictly between `before` and `after`, spread evenly
 * (shorter than calling `rankBetween` n times into the same gap).
 */
export function ranksBetween(before: string | null, after: string | null, n: number): string[] {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_RANKS_PER_CALL) {
    throw new RankError('invalid-argument', `n must be an integer in 0..${MAX_RANKS_PER_CALL}`);
  }
  checkBounds(before, after);
  return generateNKeysBetween(before, after, n).map(checkLength);
}

/**
 * The rank that puts a card at `index` (0..ranks.length) of a column whose
 * other cards have `ranks`, in display order (`compareCards`), without the
 * card being placed.
 *
 * Exact unless the two neighbours have the same rank (two concurrent inserts
 * into one gap): nothing lies strictly between equal ranks, so the card goes
 * right after the run of equal ranks instead of failing the user's drop.
 */
export function rankForIndex(ranks: readonly string[], index: number): string {
  if (!Number.isSafeInteger(index) || index < 0 || index > ranks.length) {
    throw new RankError('invalid-argument', `index must be an integer in 0..${ranks.length}`);
  }
  for (let i = 1; i < ranks.length; i++) {
    if ((ranks[i - 1] as string) > (ranks[i] as string)) {
      throw new RankError('invalid-argument', 'ranks must be in display order');
    }
  }
  const before = index > 0 ? (ranks[index - 1] as string) : null;
  let next = index;
  while (before !== null && next < ranks.length && ranks[next] === before) next++;
  const after = next < ranks.length ? (ranks[next] as string) : null;
  return rankBetween(before, after);
}

/** The minimum a card needs to be ordered. */
export interface RankedCard {
  readonly id: string;
  readonly rank: string;
}

/**
 * The display order of cards in one column: by rank, then by id. The id
 * tie-break matters: cards that got the same rank concurrently must still
 * appear in one deterministic order on every replica.
 */
export function compareCards(a: RankedCard, b: RankedCard): number {
  return compareRanks(a.rank, b.rank) || compareRanks(a.id, b.id);
}
