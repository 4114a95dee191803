import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureBackoff } from './backoff.ts';

/** A back-off on a clock the test moves by hand. */
function withClock(opts: { free?: number; baseMs?: number; capMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const backoff = new FailureBackoff({ ...opts, now: () => clock.now });
  return { clock, backoff };
}

function fail(backoff: FailureBackoff, source: string, times: number): void {
  for (let i = 0; i < times; i++) backoff.recordFailure(source);
}

describe('FailureBackoff', () => {
  it('lets an unknown source try at once', () => {
    const { backoff } = withClock();
    assert.equal(backoff.waitFor('198.51.100.7'), 0);
  });

  it('charges nothing for the first `free` failures (default 5)', () => {
    const { backoff } = withClock();
    for (let i = 1; i <= 5; i++) {
      backoff.recordFailure('a');
      assert.equal(backoff.waitFor('a'), 0, `after failure ${i}`);
    }
    backoff.recordFailure('a');
    assert.equal(backoff.waitFor('a'), 1000, 'the sixth failure starts the wait');
  });

  it('doubles the wait for each further failure and caps it (defaults: 1 s … 5 min)', () => {
    const { backoff } = withClock();
    fail(backoff, 'a', 5);
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      backoff.recordFailure('a');
      waits.push(backoff.waitFor('a'));
    }
    assert.deepEqual(
      waits,
      [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000, 300000],
    );
  });

  it('honours custom free, base and cap', () => {
    const { backoff } = withClock({ free: 2, baseMs: 100, capMs: 450 });
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      backoff.recordFailure('a');
      waits.push(backoff.waitFor('a'));
    }
    assert.deepEqual(waits, [0, 0, 100, 200, 400, 450]);
  });

  it('counts the wait down with the clock and frees the source when it has passed', () => {
    const { clock, backoff } = withClock({ free: 0, baseMs: 1000 });
    backoff.recordFailure('a');
    assert.equal(backoff.waitFor('a'), 1000);
    clock.now += 400;
    assert.equal(backoff.waitFor('a'), 600);
    clock.now += 600;
    assert.equal(backoff.waitFor('a'), 0);
    clock.now += 10_000;
    assert.equal(backoff.waitFor('a'), 0, 'never negative');
  });

  it('does not forget failures once a wait has passed: the next failure waits longer', () => {
    const { clock, backoff } = withClock({ free: 1, baseMs: 1000 });
    fail(backoff, 'a', 2);
    assert.equal(backoff.waitFor('a'), 1000);
    clock.now += 5000;
    assert.equal(backoff.waitFor('a'), 0);
    backoff.recordFailure('a');
    assert.equal(backoff.waitFor('a'), 2000);
  });

  it('keeps sources independent', () => {
    const { backoff } = withClock();
    fail(backoff, 'attacker', 8);
    assert.equal(backoff.waitFor('attacker'), 4000);
    assert.equal(backoff.waitFor('operator'), 0);
    fail(backoff, 'operator', 5);
    assert.equal(backoff.waitFor('operator'), 0, 'the operator still has its own free failures');
    assert.equal(backoff.waitFor('attacker'), 4000, 'unchanged by another source');
  });

  it('reset() clears every source', () => {
    const { backoff } = withClock();
    fail(backoff, 'a', 9);
    fail(backoff, 'b', 7);
    assert.ok(backoff.waitFor('a') > 0);
    assert.ok(backoff.waitFor('b') > 0);
    backoff.reset();
    assert.equal(backoff.waitFor('a'), 0);
    assert.equal(backoff.waitFor('b'), 0);
    fail(backoff, 'a', 5);
    assert.equal(backoff.waitFor('a'), 0, 'the count starts again from zero');
  });
});
