import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type Backend, testStorage, testUser } from '../../../../../test/support/storage.ts';
import { BulwarkError } from '../../errors.ts';
import { type Clock, SecretHasher } from '../secret-hasher.ts';
import { UserStore } from '../user-store.ts';
import { DevLogSmsProvider } from './dev-log-provider.ts';
import { SMS_INSECURE_WARNING, SmsDeliveryError, type SmsProvider } from './provider.ts';
import { SmsCodeService } from './service.ts';

class RecordingProvider implements SmsProvider {
  readonly name = 'recording';
  readonly sent: { to: string; text: string }[] = [];
  failWith: Error | null = null;

  async send(to: string, text: string): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.sent.push({ to, text });
  }

  lastCode(): string {
    const code = /\b(\d{6})\b/.exec(this.sent.at(-1)?.text ?? '')?.[1];
    assert.ok(code, 'a 6-digit code was sent');
    return code;
  }
}

class TestClock implements Clock {
  #now = new Date('2026-03-04T10:00:00.000Z').getTime();
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

const PHONE = '+447700900123';

/** null when the PostgreSQL variant is skipped (no PostgreSQL outside CI). */
async function setup(t: TestContext, backend: Backend, opts: { confirm?: boolean } = {}) {
  const opened = await testStorage(t, backend);
  if (!opened) return null;
  const { storage, root } = opened;
  const hasher = new SecretHasher(root.derive('sessionMac'));
  const clock = new TestClock();
  const provider = new RecordingProvider();
  const sms = new SmsCodeService({ storage, hasher, clock, provider });
  const userId = await testUser(storage, 'Ada');
  await sms.enrolNumber(userId, PHONE);
  if (opts.confirm !== false) {
    const { challengeId } = await sms.sendCode(userId);
    assert.equal(await sms.confirmNumber(userId, challengeId, provider.lastCode()), true);
  }
  return { storage, root, sms, provider, clock, userId };
}

/** A wrong 6-digit code for `code`. */
const wrong = (code: string) => ((Number(code) + 1) % 1_000_000).toString().padStart(6, '0');

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`SmsCodeService on real storage (${backend})`, () => {
    it('sends a 6-digit code to the number, labelled insecure, valid for 5 minutes', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId } = s;
      const sent = await sms.sendCode(userId);
      assert.equal(provider.sent.at(-1)?.to, PHONE);
      assert.match(provider.lastCode(), /^\d{6}$/);
      assert.equal(sent.insecure, true);
      assert.equal(
        sent.warning,
        'SMS codes are not secure: they can be intercepted or redirected (SIM swap). Prefer a passkey or an authenticator app.',
      );
      assert.equal(sent.warning, SMS_INSECURE_WARNING);
      assert.equal(sent.expiresAt, '2026-03-04T10:05:00.000Z');
      assert.match(sent.challengeId, /^bwsms_[A-Za-z0-9_-]{43}$/);
    });

    it('the right code is accepted once', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId } = s;
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      assert.equal(await sms.verifyCode(userId, challengeId, code), true);
      assert.equal(await sms.verifyCode(userId, challengeId, code), false, 'single use');
    });

    it('codes are bound to their user and challenge', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId, storage } = s;
      const other = await new UserStore(storage).create({ displayName: 'Eve' });
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      assert.equal(await sms.verifyCode(other.id, challengeId, code), false);
      assert.equal(await sms.verifyCode(userId, `${challengeId}x`, code), false);
      assert.equal(await sms.verifyCode(userId, 'bwsms_nope', code), false);
      assert.equal(await sms.verifyCode(userId, challengeId, code), true);
    });

    it('after 5 wrong tries even the right code is refused', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId, storage } = s;
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      for (let i = 0; i < 5; i++) {
        assert.equal(await sms.verifyCode(userId, challengeId, wrong(code)), false);
      }
      assert.equal(await sms.verifyCode(userId, challengeId, code), false);
      const rows = await storage.db
        .selectFrom('auth_challenges')
        .select(['attempts', 'used_at'])
        .where('kind', '=', 'sms')
        .where('used_at', 'is', null) // not the confirmation's challenge
        .execute();
      assert.equal(rows.length, 1);
      assert.equal(
        rows[0]?.attempts,
        5,
        'the sixth try did not even count: the challenge was spent',
      );
    });

    it('malformed codes spend attempts too, and concurrent guesses cannot share one', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId } = s;
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      assert.equal(await sms.verifyCode(userId, challengeId, 'abc'), false);
      assert.equal(await sms.verifyCode(userId, challengeId, 'x'.repeat(10_000)), false);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => sms.verifyCode(userId, challengeId, code)),
      );
      // 3 attempts were left: at most one of the 6 racing right answers wins.
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('accepts the code with spaces or a dash', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId } = s;
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      assert.equal(
        await sms.verifyCode(userId, challengeId, ` ${code.slice(0, 3)}-${code.slice(3)} `),
        true,
      );
    });

    it('an expired code is refused', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId, clock } = s;
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      clock.advance(5 * 60_000);
      assert.equal(await sms.verifyCode(userId, challengeId, code), false);

      const fresh = await sms.sendCode(userId);
      clock.advance(5 * 60_000 - 1);
      assert.equal(await sms.verifyCode(userId, fresh.challengeId, provider.lastCode()), true);
    });

    it('a new code replaces the previous one', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId } = s;
      const first = await sms.sendCode(userId);
      const firstCode = provider.lastCode();
      const second = await sms.sendCode(userId);
      assert.equal(await sms.verifyCode(userId, first.challengeId, firstCode), false);
      assert.equal(await sms.verifyCode(userId, second.challengeId, provider.lastCode()), true);
    });

    it('limits codes per user to 5 per 15 minutes', async (t) => {
      const s = await setup(t, backend); // the confirmation used one
      if (!s) return;
      const { sms, userId, clock } = s;
      for (let i = 0; i < 4; i++) await sms.sendCode(userId);
      await assert.rejects(
        sms.sendCode(userId),
        (err: unknown) => err instanceof BulwarkError && err.code === 'rate_limited',
      );
      clock.advance(15 * 60_000);
      await sms.sendCode(userId);
    });

    it('stores neither the code nor the phone number in the clear', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId, storage } = s;
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      const dump = async () =>
        JSON.stringify([
          await storage.db.selectFrom('auth_challenges').selectAll().execute(),
          await storage.db.selectFrom('sms_numbers').selectAll().execute(),
        ]);
      const before = await dump();
      for (const secret of [code, challengeId, PHONE, PHONE.slice(1), '7700900123']) {
        assert.ok(!before.includes(secret), `${secret} is in the clear`);
      }
      assert.equal(await sms.verifyCode(userId, challengeId, code), true);
      assert.ok(!(await dump()).includes(code));
      assert.deepEqual(await sms.getNumber(userId), {
        phone: PHONE,
        confirmed: true,
        insecure: true,
        warning: SMS_INSECURE_WARNING,
      });
    });

    it('refuses a number that is not E.164', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, userId } = s;
      for (const bad of [
        '07700900123',
        '+0447700900123',
        '+44 7700 900123',
        '+44-7700-900123',
        '+1234567890123456',
        '+12345',
        '447700900123',
        '+44770090012a',
        `${PHONE}\n`,
        '',
      ]) {
        await assert.rejects(
          sms.enrolNumber(userId, bad),
          (err: unknown) => err instanceof BulwarkError && err.code === 'bad_request',
          JSON.stringify(bad),
        );
      }
      assert.equal((await sms.getNumber(userId))?.phone, PHONE, 'unchanged');
      await sms.enrolNumber(userId, '+15555550100');
      assert.equal((await sms.getNumber(userId))?.phone, '+15555550100');
    });

    it('an unconfirmed number cannot sign in; confirming it enables it', async (t) => {
      const s = await setup(t, backend, { confirm: false });
      if (!s) return;
      const { sms, provider, userId } = s;
      assert.equal((await sms.getNumber(userId))?.confirmed, false);
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      assert.equal(await sms.verifyCode(userId, challengeId, code), false);
      assert.equal(await sms.confirmNumber(userId, challengeId, code), true);
      assert.equal((await sms.getNumber(userId))?.confirmed, true);
      const next = await sms.sendCode(userId);
      assert.equal(await sms.verifyCode(userId, next.challengeId, provider.lastCode()), true);
    });

    it('a new number needs confirming again and voids codes sent to the old one', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId } = s;
      const { challengeId } = await sms.sendCode(userId);
      const code = provider.lastCode();
      await sms.enrolNumber(userId, '+15555550100');
      assert.equal((await sms.getNumber(userId))?.confirmed, false);
      assert.equal(await sms.confirmNumber(userId, challengeId, code), false);
      // Re-enrolling the same confirmed number changes nothing.
      const again = await sms.sendCode(userId);
      assert.equal(provider.sent.at(-1)?.to, '+15555550100');
      assert.equal(await sms.confirmNumber(userId, again.challengeId, provider.lastCode()), true);
      await sms.enrolNumber(userId, '+15555550100');
      assert.equal((await sms.getNumber(userId))?.confirmed, true);
    });

    it('removing the number ends its codes', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId } = s;
      const { challengeId } = await sms.sendCode(userId);
      assert.equal(await sms.removeNumber(userId), true);
      assert.equal(await sms.removeNumber(userId), false);
      assert.equal(await sms.verifyCode(userId, challengeId, provider.lastCode()), false);
      await assert.rejects(
        sms.sendCode(userId),
        (err: unknown) => err instanceof BulwarkError && err.code === 'not_found',
      );
    });

    it('a failed send is an error naming the provider problem, and its code is void', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { sms, provider, userId, storage } = s;
      provider.failWith = new SmsDeliveryError('The SMS gateway answered HTTP 503.', {
        status: 503,
      });
      await assert.rejects(
        sms.sendCode(userId),
        (err: unknown) =>
          err instanceof BulwarkError &&
          err.code === 'sms_delivery_failed' &&
          /HTTP 503/.test(err.message),
      );
      const open = await storage.db
        .selectFrom('auth_challenges')
        .select('id_hash')
        .where('kind', '=', 'sms')
        .where('used_at', 'is', null)
        .where('expires_at', '>', '2026-03-04T10:00:00.000Z')
        .execute();
      assert.deepEqual(open, []);
    });

    it('with the development provider disabled, sending fails clearly', async (t) => {
      const opened = await testStorage(t, backend);
      if (!opened) return;
      const { storage, root } = opened;
      const userId = await testUser(storage, 'Ada');
      const sms = new SmsCodeService({
        storage,
        hasher: new SecretHasher(root.derive('sessionMac')),
        clock: new TestClock(),
        provider: new DevLogSmsProvider({ log: () => {}, enabled: false }),
      });
      await sms.enrolNumber(userId, PHONE);
      await assert.rejects(sms.sendCode(userId), /development SMS provider is disabled/);
    });

    it('refuses to enrol a number for an unknown user', async (t) => {
      const s = await setup(t, backend, { confirm: false });
      if (!s) return;
      const { sms } = s;
      await assert.rejects(
        sms.enrolNumber('no-such-user', PHONE),
        (err: unknown) => err instanceof BulwarkError && err.code === 'not_found',
      );
    });
  });
}
