import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Secret, TOTP, URI } from 'otpauth';
import { type Backend, testStorage, testUser } from '../../../../../test/support/storage.ts';
import { BulwarkError } from '../../errors.ts';
import type { Clock } from '../secret-hasher.ts';
import { TotpService } from './service.ts';

const STEP_MS = 30_000;
/** Mid-step, so "now" is never on a boundary. */
const START = 58_800_000 * STEP_MS + 15_000;

class TestClock implements Clock {
  ms = START;
  now(): Date {
    return new Date(this.ms);
  }
  /** Moves to the middle of the step `steps` away from START's. */
  toStep(steps: number): void {
    this.ms = START + steps * STEP_MS;
  }
}

/** What the user's authenticator app shows at a given time: computed independently by otpauth. */
function codeAt(secretBase32: string, ms: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secretBase32), timestamp: ms });
}

async function setup(t: TestContext, backend: Backend = 'sqlite') {
  const opened = await testStorage(t, backend);
  if (!opened) return null;
  const clock = new TestClock();
  const service = new TotpService({ storage: opened.storage, clock, issuer: 'Bulwark Test' });
  const userId = await testUser(opened.storage);
  return { ...opened, clock, service, userId };
}

/** Enrolled and confirmed at START's step; returns the base32 secret. */
async function enrolled(s: NonNullable<Awaited<ReturnType<typeof setup>>>): Promise<string> {
  const { secretBase32 } = await s.service.beginEnrolment(s.userId, 'ada@example.org');
  await s.service.confirmEnrolment(s.userId, codeAt(secretBase32, s.clock.ms));
  return secretBase32;
}

function isBadRequest(pattern: RegExp) {
  return (err: unknown) =>
    err instanceof BulwarkError && err.code === 'bad_request' && pattern.test(err.message);
}

describe('TOTP enrolment (sqlite)', () => {
  it('gives an otpauth URI with issuer, label and the secret, and an SVG QR code of it', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const enrolment = await s.service.beginEnrolment(s.userId, 'ada@example.org');
    assert.match(enrolment.uri, /^otpauth:\/\/totp\//);
    assert.match(enrolment.secretBase32, /^[A-Z2-7]{32}$/, '160 bits in base32');
    const parsed = URI.parse(enrolment.uri);
    assert.ok(parsed instanceof TOTP);
    assert.equal(parsed.issuer, 'Bulwark Test');
    assert.equal(parsed.label, 'ada@example.org');
    assert.equal(parsed.secret.base32, enrolment.secretBase32);
    assert.deepEqual([parsed.algorithm, parsed.digits, parsed.period], ['SHA1', 6, 30]);
    assert.match(enrolment.qrSvg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(enrolment.qrSvg, /<\/svg>\s*$/);
    assert.equal(await s.service.isEnrolled(s.userId), false, 'not before confirmation');
  });

  it('confirms with the current code, and refuses a wrong one', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const { secretBase32 } = await s.service.beginEnrolment(s.userId, 'ada');
    const right = codeAt(secretBase32, s.clock.ms);
    const wrong = right === '000000' ? '000001' : '000000';
    await assert.rejects(s.service.confirmEnrolment(s.userId, wrong), isBadRequest(/not right/));
    await assert.rejects(s.service.confirmEnrolment(s.userId, 'abc'), isBadRequest(/not right/));
    assert.equal(await s.service.isEnrolled(s.userId), false);
    await s.service.confirmEnrolment(s.userId, right);
    assert.equal(await s.service.isEnrolled(s.userId), true);
    // The confirming code has been used once already: it cannot log in.
    assert.equal(await s.service.verify(s.userId, right), false);
  });

  it('stores the secret encrypted, never as base32 in the row', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const { secretBase32 } = await s.service.beginEnrolment(s.userId, 'ada');
    const row = await s.storage.db
      .selectFrom('totp_secrets')
      .select('secret_enc')
      .where('user_id', '=', s.userId)
      .executeTakeFirstOrThrow();
    assert.match(row.secret_enc, /^fe1\./);
    assert.ok(!row.secret_enc.includes(secretBase32));
    assert.ok(!row.secret_enc.toUpperCase().includes(secretBase32));
  });

  it('replaces a pending enrolment, but refuses to replace a confirmed one', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const first = await s.service.beginEnrolment(s.userId, 'ada');
    const second = await s.service.beginEnrolment(s.userId, 'ada');
    assert.notEqual(first.secretBase32, second.secretBase32);
    const stale = codeAt(first.secretBase32, s.clock.ms);
    const fresh = codeAt(second.secretBase32, s.clock.ms);
    if (stale !== fresh) {
      await assert.rejects(s.service.confirmEnrolment(s.userId, stale), isBadRequest(/not right/));
    }
    await s.service.confirmEnrolment(s.userId, fresh);
    await assert.rejects(
      s.service.beginEnrolment(s.userId, 'ada'),
      isBadRequest(/already set up; remove it first/),
    );
    await assert.rejects(s.service.confirmEnrolment(s.userId, fresh), isBadRequest(/already/));
    assert.equal(await s.service.isEnrolled(s.userId), true);
  });

  it('remove takes TOTP away and allows a new enrolment', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const secret = await enrolled(s);
    assert.equal(await s.service.remove(s.userId), true);
    assert.equal(await s.service.isEnrolled(s.userId), false);
    s.clock.toStep(1);
    assert.equal(await s.service.verify(s.userId, codeAt(secret, s.clock.ms)), false);
    assert.equal(await s.service.remove(s.userId), false, 'nothing left to remove');
    await s.service.beginEnrolment(s.userId, 'ada');
    await assert.rejects(
      s.service.confirmEnrolment(s.userId, codeAt(secret, s.clock.ms)),
      isBadRequest(/not right/),
      'the old secret is gone',
    );
  });

  it('confirming without a pending enrolment is not_found', async (t) => {
    const s = await setup(t);
    if (!s) return;
    await assert.rejects(
      s.service.confirmEnrolment(s.userId, '123456'),
      (err: unknown) => err instanceof BulwarkError && err.code === 'not_found',
    );
  });
});

describe('TOTP verification (sqlite)', () => {
  it('accepts one step either side of now, refuses two', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const secret = await enrolled(s);
    s.clock.toStep(10);
    const at = (steps: number) => codeAt(secret, START + steps * STEP_MS);
    // Refusals first, while every step is still newer than the last one used.
    assert.equal(await s.service.verify(s.userId, at(8)), false, '−2 steps');
    assert.equal(await s.service.verify(s.userId, at(12)), false, '+2 steps');
    assert.equal(await s.service.verify(s.userId, at(9)), true, '−1 step');
    assert.equal(await s.service.verify(s.userId, at(11)), true, '+1 step');
  });

  it('does not verify against a secret that was never confirmed, nor for a user without one', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const { secretBase32 } = await s.service.beginEnrolment(s.userId, 'ada');
    assert.equal(await s.service.verify(s.userId, codeAt(secretBase32, s.clock.ms)), false);
    const other = await testUser(s.storage, 'Nobody');
    assert.equal(await s.service.verify(other, '123456'), false);
    assert.equal(await s.service.verify('no-such-user', '123456'), false);
  });

  it('refuses malformed codes without touching the row', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const secret = await enrolled(s);
    s.clock.toStep(5);
    const code = codeAt(secret, s.clock.ms);
    const before = await rawRow(s);
    for (const bad of [
      '',
      code.slice(1),
      `${code}0`,
      ` ${code}`,
      `${code.slice(0, 3)} ${code.slice(3)}`,
      'abcdef',
      '１２３４５６', // full-width digits
    ]) {
      assert.equal(await s.service.verify(s.userId, bad), false, JSON.stringify(bad));
    }
    assert.deepEqual(await rawRow(s), before);
    assert.equal(await s.service.verify(s.userId, code), true, 'the real code still works');
  });
});

async function rawRow(s: NonNullable<Awaited<ReturnType<typeof setup>>>) {
  return s.storage.db
    .selectFrom('totp_secrets')
    .selectAll()
    .where('user_id', '=', s.userId)
    .executeTakeFirstOrThrow();
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`TOTP replay protection (${backend})`, () => {
    it('accepts a code once; then refuses it and any older step', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const secret = await enrolled(s);
      s.clock.toStep(20);
      const now = codeAt(secret, s.clock.ms);
      const previous = codeAt(secret, s.clock.ms - STEP_MS);
      assert.equal(await s.service.verify(s.userId, now), true);
      assert.equal(await s.service.verify(s.userId, now), false, 'same code again');
      assert.equal(await s.service.verify(s.userId, previous), false, 'older step after newer');
      const row = await rawRow(s);
      assert.equal(Number(row.last_used_step), TOTP.counter({ timestamp: s.clock.ms }));
      s.clock.toStep(21);
      assert.equal(await s.service.verify(s.userId, codeAt(secret, s.clock.ms)), true);
    });

    it('lets exactly one of two concurrent verifications of the same code win', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const secret = await enrolled(s);
      // Warm the pool so both requests hold a connection at once and really
      // interleave, rather than one finishing while the other connects.
      await Promise.all([1, 2, 3].map(() => s.service.isEnrolled(s.userId)));
      for (let step = 30; step < 35; step++) {
        s.clock.toStep(step);
        const code = codeAt(secret, s.clock.ms);
        const results: boolean[] = await Promise.all([
          s.service.verify(s.userId, code),
          s.service.verify(s.userId, code),
        ]);
        assert.equal(results.filter(Boolean).length, 1, `step ${step}: ${results}`);
      }
    });
  });
}
