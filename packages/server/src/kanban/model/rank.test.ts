import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generateKeyBetween } from 'fractional-indexing';
import {
  compareCards,
  isValidRank,
  MAX_RANK_LENGTH,
  RankError,
  rankBetween,
  rankForIndex,
  ranksBetween,
  validateRank,
} from './rank.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const HEADS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const digit = fc.constantFrom(...BASE62);
const nonZeroDigit = fc.constantFrom(...BASE62.slice(1));

/** Any well-formed rank up to `maxFraction` fractional digits. */
function rankArb(maxFraction = 12): fc.Arbitrary<string> {
  return fc
    .record({
      head: fc.integer({ min: 0, max: 51 }),
      digits: fc.array(digit, { minLength: 26, maxLength: 26 }),
      fraction: fc.array(digit, { maxLength: maxFraction }),
      last: nonZeroDigit,
    })
    .map(({ head, digits, fraction, last }) => {
      const integerLength = head < 26 ? 27 - head : head - 24;
      const integer = HEADS.charAt(head) + digits.slice(0, integerLength - 1).join('');
      return fraction.length === 0 ? integer : integer + fraction.join('') + last;
    })
    .filter((rank) => rank !== `A${'0'.repeat(26)}`);
}

function isRankError(code: string) {
  return (e: unknown) => e instanceof RankError && e.code === code;
}

function assertSorted(ranks: readonly string[]): void {
  for (let i = 1; i < ranks.length; i++) {
    assert.ok((ranks[i - 1] as string) < (ranks[i] as string), `${ranks[i - 1]} < ${ranks[i]}`);
  }
}

describe('rankBetween', () => {
  it('gives the familiar keys', () => {
    assert.equal(rankBetween(null, null), 'a0');
    assert.equal(rankBetween('a0', null), 'a1');
    assert.equal(rankBetween(null, 'a0'), 'Zz');
    assert.equal(rankBetween('a0', 'a1'), 'a0V');
  });

  it('refuses bounds that are reversed or equal (the library would silently swap)', () => {
    assert.throws(() => rankBetween('a1', 'a0'), isRankError('bounds-out-of-order'));
    assert.throws(() => rankBetween('a1', 'a1'), isRankError('bounds-out-of-order'));
  });

  it('property: the result is strictly between its bounds, valid, and at most one longer', () => {
    fc.assert(
      fc.property(
        fc.option(rankArb(), { nil: null }),
        fc.option(rankArb(), { nil: null }),
        (x, y) => {
          const [before, after] = x !== null && y !== null && x > y ? [y, x] : [x, y];
          if (before !== null && before === after) return;
          const rank = rankBetween(before, after);
          assert.ok(before === null || before < rank, `${before} < ${rank}`);
          assert.ok(after === null || rank < after, `${rank} < ${after}`);
          assert.ok(isValidRank(rank), rank);
          const longest = Math.max(before?.length ?? 2, after?.length ?? 2);
          assert.ok(rank.length <= longest + 1, `${before} ${after} -> ${rank}`);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses to produce a rank longer than the limit', () => {
    // The adversarial pattern: always inserting into the same, shrinking gap.
    let low = 'a0';
    const high = 'a1';
    let inserts = 0;
    for (;;) {
      let rank: string;
      try {
        rank = rankBetween(low, high);
      } catch (error) {
        assert.ok(isRankError('rank-too-long')(error), String(error));
        break;
      }
      assert.ok(rank.length <= MAX_RANK_LENGTH);
      low = rank;
      inserts++;
    }
    // About 6 splits per base-62 digit: a user would never get there.
    assert.ok(inserts > 300, `${inserts} inserts`);
    assert.equal(low.length, MAX_RANK_LENGTH);
  });
});

describe('ranksBetween', () => {
  it('property: n ascending valid ranks strictly between the bounds', () => {
    fc.assert(
      fc.property(
        fc.option(rankArb(8), { nil: null }),
        fc.option(rankArb(8), { nil: null }),
        fc.integer({ min: 0, max: 50 }),
        (x, y, n) => {
          const [before, after] = x !== null && y !== null && x > y ? [y, x] : [x, y];
          if (before !== null && before === after) return;
          const ranks = ranksBetween(before, after, n);
          assert.equal(ranks.length, n);
          assertSorted([
            ...(before === null ? [] : [before]),
            ...ranks,
            ...(after === null ? [] : [after]),
          ]);
          for (const r of ranks) assert.ok(isValidRank(r));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a bad count', () => {
    for (const n of [-1, 1.5, Number.NaN, 1_000_000]) {
      assert.throws(() => ranksBetween(null, null, n), isRankError('invalid-argument'));
    }
  });
});

describe('rank validation', () => {
  it('refuses what a client must not send', () => {
    const bad: unknown[] = [
      undefined,
      null,
      7,
      '',
      'a', // integer part too short for head "a"
      '0a', // head must be a letter
      'a0 ',
      'a0-',
      'a0é',
      'a10', // trailing zero in the fraction
      `A${'0'.repeat(26)}`, // the reserved smallest integer
      `a0${'V'.repeat(MAX_RANK_LENGTH - 1)}`, // 65 characters
    ];
    for (const rank of bad) {
      assert.equal(isValidRank(rank), false, String(rank));
      assert.throws(() => validateRank(rank), isRankError('invalid-rank'), String(rank));
      if (typeof rank === 'string') {
        assert.throws(() => rankBetween(rank, null), isRankError('invalid-rank'));
      }
    }
    assert.equal(validateRank('a0V'), 'a0V');
    assert.ok(isValidRank(`z${'z'.repeat(26)}`));
    assert.ok(isValidRank(`a0${'V'.repeat(MAX_RANK_LENGTH - 2)}`));
  });

  it('property: whatever passes validation the library accepts as a neighbour', () => {
    // Fuzz with strings over the rank alphabet (plus the occasional stray
    // character): our validator must never be looser than the library's.
    const candidate = fc.oneof(
      rankArb(40),
      fc.string({ unit: fc.constantFrom(...`${BASE62}-_ `), minLength: 1, maxLength: 70 }),
    );
    fc.assert(
      fc.property(candidate, (rank) => {
        if (!isValidRank(rank)) return;
        assert.ok(rank.length <= MAX_RANK_LENGTH);
        generateKeyBetween(rank, null);
        generateKeyBetween(null, rank);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ordering cards', () => {
  it('orders by rank, then by id for equal ranks', () => {
    const cards = [
      { id: 'b', rank: 'a1' },
      { id: 'c', rank: 'a0' },
      { id: 'a', rank: 'a1' },
    ];
    assert.deepEqual(
      cards.sort(compareCards).map((c) => c.id),
      ['c', 'a', 'b'],
    );
    // Code-unit order, not locale order: "Z" < "a".
    assert.ok(compareCards({ id: 'x', rank: 'Zz' }, { id: 'x', rank: 'a0' }) < 0);
  });

  it('property: every permutation of the cards sorts to the same order', () => {
    const card = fc.record({ id: fc.constantFrom('i1', 'i2', 'i3', 'i4'), rank: rankArb(2) });
    fc.assert(
      fc.property(
        fc
          .uniqueArray(card, { selector: (c) => c.id, maxLength: 4 })
          .chain((cards) =>
            fc.tuple(fc.constant(cards), fc.shuffledSubarray(cards, { minLength: cards.length })),
          ),
        ([cards, shuffled]) => {
          assert.deepEqual([...shuffled].sort(compareCards), [...cards].sort(compareCards));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('rankForIndex', () => {
  it('places a card at the index', () => {
    assert.equal(rankForIndex([], 0), 'a0');
    assert.equal(rankForIndex(['a0', 'a1'], 0), 'Zz');
    assert.equal(rankForIndex(['a0', 'a1'], 1), 'a0V');
    assert.equal(rankForIndex(['a0', 'a1'], 2), 'a2');
    assert.throws(() => rankForIndex(['a0'], 2), isRankError('invalid-argument'));
    assert.throws(() => rankForIndex(['a1', 'a0'], 0), isRankError('invalid-argument'));
  });

  it('between two equal ranks, places the card right after them', () => {
    // Two cards inserted concurrently into one gap got the same rank.
    const rank = rankForIndex(['a0', 'a1', 'a1', 'a2'], 2);
    assert.ok('a1' < rank && rank < 'a2', rank);
  });

  it('property: 1000 inserts at random positions give the intended order and short ranks', () => {
    let longest = 0;
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), {
          minLength: 1000,
          maxLength: 1000,
        }),
        (positions) => {
          // `column` holds card numbers in intended order; ranks[] in parallel.
          const column: number[] = [];
          const ranks: string[] = [];
          positions.forEach((p, card) => {
            const index = Math.floor(p * (column.length + 1));
            const rank = rankForIndex(ranks, index);
            column.splice(index, 0, card);
            ranks.splice(index, 0, rank);
          });
          assertSorted(ranks);
          const byRank = column
            .map((card, i) => ({ id: String(card), rank: ranks[i] as string }))
            .sort(compareCards)
            .map((c) => Number(c.id));
          assert.deepEqual(byRank, column);
          for (const r of ranks) {
            assert.ok(r.length <= MAX_RANK_LENGTH);
            longest = Math.max(longest, r.length);
          }
        },
      ),
      { numRuns: 15 },
    );
    // Logarithmic growth: far from the bound.
    assert.ok(longest <= 12, `longest rank ${longest}`);
  });

  it('property: realistic mixes (mostly top and bottom, some anywhere) stay short', () => {
    const position = fc.oneof(
      { weight: 3, arbitrary: fc.constant('top' as const) },
      { weight: 3, arbitrary: fc.constant('bottom' as const) },
      { weight: 1, arbitrary: fc.constant('second' as const) },
      { weight: 3, arbitrary: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) },
    );
    fc.assert(
      fc.property(fc.array(position, { minLength: 1000, maxLength: 1000 }), (moves) => {
        const ranks: string[] = [];
        for (const m of moves) {
          const index =
            m === 'top'
              ? 0
              : m === 'bottom'
                ? ranks.length
                : m === 'second'
                  ? Math.min(1, ranks.length)
                  : Math.floor(m * (ranks.length + 1));
          ranks.splice(index, 0, rankForIndex(ranks, index));
        }
        assertSorted(ranks);
        assert.ok(Math.max(...ranks.map((r) => r.length)) <= MAX_RANK_LENGTH);
      }),
      { numRuns: 10 },
    );
  });
});
