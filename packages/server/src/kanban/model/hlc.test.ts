import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ClockDriftError,
  compareHlc,
  createHlc,
  DEFAULT_MAX_DRIFT_MS,
  formatHlc,
  HLC_MAX_COUNTER,
  HLC_MAX_LENGTH,
  HLC_MAX_WALL_MS,
  type Hlc,
  HlcError,
  HybridClock,
  parseHlc,
} from './hlc.ts';

const T0 = 1_750_000_000_000;

/** A wall clock the test sets by hand. */
function manualClock(start = T0): { now: () => number; set: (ms: number) => void } {
  let current = start;
  return { now: () => current, set: (ms) => (current = ms) };
}

const nodeId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const hlcArb = fc
  .record({
    wallMs: fc.integer({ min: 0, max: HLC_MAX_WALL_MS }),
    counter: fc.integer({ min: 0, max: HLC_MAX_COUNTER }),
    node: nodeId,
  })
  .map(({ wallMs, counter, node }) => createHlc(wallMs, counter, node));

function sign(n: number): number {
  return n === 0 ? 0 : n < 0 ? -1 : 1;
}

describe('HLC text form', () => {
  it('is zero-padded and fixed-width', () => {
    assert.equal(formatHlc(createHlc(42, 7, 'srv')), '0000000000042-00007-srv');
    assert.equal(formatHlc(createHlc(T0, 0, 'a-b_C9')), `${T0}-00000-a-b_C9`);
    assert.deepEqual(parseHlc(`${T0}-00012-n-1`), { wallMs: T0, counter: 12, node: 'n-1' });
  });

  it('refuses malformed input with a clear error', () => {
    const bad: unknown[] = [
      42,
      null,
      '',
      `${T0}-00001`,
      `${T0}-1-node`, // counter not padded
      `${T0 / 10}-00001-node`, // 12 digits
      ` ${T0}-00001-node`,
      `${T0}-00001-node `,
      `${T0}-00001-nöde`,
      `${T0}-00001-no.de`,
      `${T0}-00001-${'x'.repeat(65)}`,
      '1'.repeat(10_000),
    ];
    for (const text of bad) {
      assert.throws(
        () => parseHlc(text),
        (e: unknown) => e instanceof HlcError && e.code === 'malformed',
        String(text).slice(0, 40),
      );
    }
    assert.throws(() => parseHlc('1'.repeat(HLC_MAX_LENGTH + 1)), /at most 84/);
    assert.throws(() => createHlc(-1, 0, 'n'), HlcError);
    assert.throws(() => createHlc(1.5, 0, 'n'), HlcError);
    assert.throws(() => createHlc(0, HLC_MAX_COUNTER + 1, 'n'), HlcError);
    assert.throws(() => createHlc(HLC_MAX_WALL_MS + 1, 0, 'n'), HlcError);
  });

  it('property: parse ∘ format is the identity, and fits the length limit', () => {
    fc.assert(
      fc.property(hlcArb, (h) => {
        const text = formatHlc(h);
        assert.ok(text.length <= HLC_MAX_LENGTH);
        assert.deepEqual(parseHlc(text), h);
      }),
      { numRuns: 300 },
    );
  });

  it('property: string order of the text form equals compareHlc', () => {
    fc.assert(
      fc.property(hlcArb, hlcArb, (a, b) => {
        const sa = formatHlc(a);
        const sb = formatHlc(b);
        assert.equal(sign(compareHlc(a, b)), sa === sb ? 0 : sa < sb ? -1 : 1);
        assert.equal(sign(compareHlc(a, b)), -sign(compareHlc(b, a)));
      }),
      { numRuns: 500 },
    );
    // The interesting corner: node id is the last tie-break, by code unit.
    const x = createHlc(T0, 1, 'a');
    const y = createHlc(T0, 1, 'a-b');
    assert.equal(compareHlc(x, y), -1);
    assert.ok(formatHlc(x) < formatHlc(y));
  });
});

describe('HybridClock', () => {
  it('follows the wall clock when it advances', () => {
    const wall = manualClock();
    const clock = new HybridClock({ node: 'a', wallClock: wall.now });
    assert.deepEqual(clock.now(), { wallMs: T0, counter: 0, node: 'a' });
    assert.deepEqual(clock.now(), { wallMs: T0, counter: 1, node: 'a' });
    wall.set(T0 + 5);
    assert.deepEqual(clock.now(), { wallMs: T0 + 5, counter: 0, node: 'a' });
  });

  it('stays monotonic when the wall clock goes backwards', () => {
    const wall = manualClock();
    const clock = new HybridClock({ node: 'a', wallClock: wall.now });
    clock.now();
    wall.set(T0 - 10_000);
    assert.deepEqual(clock.now(), { wallMs: T0, counter: 1, node: 'a' });
  });

  it('a receive stamp is greater than the remote stamp and the last local one', () => {
    const wall = manualClock();
    const clock = new HybridClock({ node: 'a', wallClock: wall.now });
    clock.now();
    const remote = createHlc(T0 + 2_000, 9, 'b');
    assert.deepEqual(clock.receive(remote), { wallMs: T0 + 2_000, counter: 10, node: 'a' });
    assert.deepEqual(clock.receive(formatHlc(remote)), {
      wallMs: T0 + 2_000,
      counter: 11,
      node: 'a',
    });
    wall.set(T0 + 3_000);
    assert.deepEqual(clock.receive(remote), { wallMs: T0 + 3_000, counter: 0, node: 'a' });
  });

  it('refuses a remote stamp too far in the future, and is unchanged after', () => {
    const wall = manualClock();
    const clock = new HybridClock({ node: 'a', wallClock: wall.now });
    const before = clock.now();
    assert.equal(clock.maxDriftMs, DEFAULT_MAX_DRIFT_MS);
    // Exactly at the limit is fine.
    clock.receive(createHlc(T0 + DEFAULT_MAX_DRIFT_MS, 0, 'b'));
    const future = createHlc(T0 + DEFAULT_MAX_DRIFT_MS + 1, 0, 'evil');
    assert.throws(
      () => clock.receive(future),
      (e: unknown) =>
        e instanceof ClockDriftError &&
        e.code === 'too-far-in-future' &&
        e.driftMs === DEFAULT_MAX_DRIFT_MS + 1 &&
        e.remote.node === 'evil',
    );
    const after = clock.now();
    assert.ok(compareHlc(after, before) > 0);
    assert.ok(after.wallMs <= T0 + DEFAULT_MAX_DRIFT_MS, 'the refused stamp left no trace');
  });

  it('the drift limit is configurable', () => {
    const clock = new HybridClock({ node: 'a', wallClock: () => T0, maxDriftMs: 100 });
    clock.receive(createHlc(T0 + 100, 0, 'b'));
    assert.throws(() => clock.receive(createHlc(T0 + 101, 0, 'b')), ClockDriftError);
    assert.throws(() => new HybridClock({ node: 'a', maxDriftMs: -1 }), RangeError);
    assert.throws(() => new HybridClock({ node: 'a', maxDriftMs: Number.NaN }), RangeError);
    // A browser replica trusting the server's stamps may switch the guard off.
    const trusting = new HybridClock({
      node: 'a',
      wallClock: () => T0,
      maxDriftMs: Number.POSITIVE_INFINITY,
    });
    assert.equal(trusting.receive(createHlc(T0 + 3_600_000, 0, 'srv')).wallMs, T0 + 3_600_000);
    assert.throws(() => new HybridClock({ node: 'bad node' }), HlcError);
  });

  it('carries counter overflow into the wall time rather than failing', () => {
    const clock = new HybridClock({ node: 'a', wallClock: () => T0 });
    clock.receive(createHlc(T0, HLC_MAX_COUNTER, 'b'));
    // max + 1 does not fit in 5 digits: (T0 + 1, 0) is the next stamp up.
    const last = clock.last();
    assert.deepEqual(last, { wallMs: T0 + 1, counter: 0, node: 'a' });
    assert.deepEqual(clock.now(), { wallMs: T0 + 1, counter: 1, node: 'a' });
  });

  it('resumes after its persisted last stamp', () => {
    const earlier = new HybridClock({ node: 'a', wallClock: () => T0 });
    earlier.now();
    const last = formatHlc(earlier.now());
    // Restarted with the wall clock an hour behind.
    const restarted = new HybridClock({ node: 'a', wallClock: () => T0 - 3_600_000, last });
    assert.ok(formatHlc(restarted.now()) > last);
    assert.equal(new HybridClock({ node: 'a' }).last(), null);
  });

  it('refuses a broken wall clock', () => {
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, HLC_MAX_WALL_MS + 1]) {
      const clock = new HybridClock({ node: 'a', wallClock: () => bad });
      assert.throws(
        () => clock.now(),
        (e: unknown) => e instanceof HlcError && e.code === 'bad-wall-clock',
      );
    }
    // Sub-millisecond clocks are floored.
    assert.equal(new HybridClock({ node: 'a', wallClock: () => T0 + 0.9 }).now().wallMs, T0);
  });

  it('property: monotonic under any interleaving of now()/receive(), wall clock jumping back and forth', () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('now' as const),
        wallDelta: fc.integer({ min: -5_000, max: 5_000 }),
      }),
      fc.record({
        kind: fc.constant('receive' as const),
        wallDelta: fc.integer({ min: -5_000, max: 5_000 }),
        // Remote stamps anywhere from well behind to beyond the drift limit,
        // or right at our own logical time, where the counters must merge.
        anchor: fc.constantFrom('wall' as const, 'logical' as const),
        remoteOffset: fc.oneof(
          fc.integer({ min: -120_000, max: 120_000 }),
          fc.integer({ min: -2, max: 2 }),
        ),
        remoteCounter: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(HLC_MAX_COUNTER)),
        remoteNode: fc.constantFrom('b', 'c', 'a'),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let wallMs = T0;
        const clock = new HybridClock({ node: 'a', wallClock: () => wallMs });
        let previous: Hlc | null = null;
        for (const s of steps) {
          wallMs += s.wallDelta;
          let stamp: Hlc;
          if (s.kind === 'now') {
            stamp = clock.now();
          } else {
            const base = s.anchor === 'wall' ? wallMs : (clock.last()?.wallMs ?? wallMs);
            const remote = createHlc(
              Math.max(0, base + s.remoteOffset),
              s.remoteCounter,
              s.remoteNode,
            );
            const tooFar = remote.wallMs - wallMs > DEFAULT_MAX_DRIFT_MS;
            try {
              stamp = clock.receive(remote);
            } catch (error) {
              assert.ok(tooFar && error instanceof ClockDriftError, String(error));
              continue;
            }
            assert.ok(!tooFar, 'a too-far-future stamp must be refused');
            assert.ok(compareHlc(stamp, remote) > 0, 'receive stamp exceeds the remote one');
          }
          assert.equal(stamp.node, 'a');
          if (previous !== null) {
            assert.ok(compareHlc(stamp, previous) > 0, 'strictly increasing');
            assert.ok(formatHlc(stamp) > formatHlc(previous), 'also as text');
          }
          previous = stamp;
          assert.deepEqual(clock.last(), stamp);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: remote stamps pull the clock at most maxDriftMs ahead of the wall time', () => {
    // The HLC bound from the paper: l - pt is bounded by the lead of accepted
    // remote stamps, which the drift guard caps.
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            wallDelta: fc.integer({ min: -1_000, max: 1_000 }),
            remoteOffset: fc.integer({ min: -200_000, max: 200_000 }),
          }),
          { maxLength: 50 },
        ),
        (steps) => {
          let wallMs = T0;
          let maxWallSeen = T0;
          const clock = new HybridClock({ node: 'a', wallClock: () => wallMs });
          for (const s of steps) {
            wallMs += s.wallDelta;
            maxWallSeen = Math.max(maxWallSeen, wallMs);
            try {
              clock.receive(createHlc(wallMs + s.remoteOffset, 0, 'b'));
            } catch (error) {
              assert.ok(error instanceof ClockDriftError);
            }
            const l = clock.now().wallMs;
            assert.ok(l <= maxWallSeen + DEFAULT_MAX_DRIFT_MS, `${l - maxWallSeen} ms ahead`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
