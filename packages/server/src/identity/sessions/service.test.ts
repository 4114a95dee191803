import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { startTestServer } from '../../../../../test/support/server.ts';
import { tempDir } from '../../../../../test/support/temp.ts';
import type { Clock } from '../secret-hasher.ts';
import { SessionService, STEP_UP_WINDOW_MS } from './service.ts';
import { SessionStore } from './store.ts';

class TestClock implements Clock {
  #t = Date.parse('2026-11-25T10:00:00Z');
  now() {
    return new Date(this.#t);
  }
  advance(ms: number) {
    this.#t += ms;
  }
}

async function setup(t: TestContext) {
  const server = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'sessions test passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  const identity = server.handle.identity();
  const clock = new TestClock();
  const sessions = new SessionService({
    store: new SessionStore(server.handle.storage()),
    users: identity.users,
    hasher: identity.hasher,
    clock,
    policy: { idleMinutes: 30, absoluteHours: 12 },
  });
  const alice = await identity.users.create({ displayName: 'Alice', username: 'alice' });
  const bob = await identity.users.create({ displayName: 'Bob', username: 'bob' });
  return { server, identity, clock, sessions, alice, bob };
}

describe('SessionService', () => {
  it('authenticates a fresh token; stores only its keyed hash', async (t) => {
    const { server, sessions, alice } = await setup(t);
    const { token, session } = await sessions.create(alice.id, {
      kind: 'cookie',
      methods: ['passkey'],
    });
    assert.match(token, /^bws_[A-Za-z0-9_-]{43}$/);
    const actor = await sessions.authenticate(token);
    assert.equal(actor?.userId, alice.id);
    assert.equal(actor?.sessionId, session.id);
    const rows = await server.handle.storage().db.selectFrom('sessions').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(token.slice(4)), 'the token is not stored');
  });

  it('refuses malformed, unknown and altered tokens', async (t) => {
    const { sessions, alice } = await setup(t);
    const { token } = await sessions.create(alice.id, { kind: 'bearer', methods: ['passkey'] });
    for (const bad of [
      '',
      'bws_',
      `${token}x`,
      token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
      `bws_${'a'.repeat(43)}`,
    ]) {
      assert.equal(await sessions.authenticate(bad), null, bad);
    }
  });

  it('expires after the idle time, slides with use, and ends at the absolute lifetime', async (t) => {
    const { sessions, clock, alice } = await setup(t);
    const { token } = await sessions.create(alice.id, { kind: 'cookie', methods: ['passkey'] });
    // Used every 20 minutes, it stays alive past the idle limit…
    for (let i = 0; i < 6; i++) {
      clock.advance(20 * 60_000);
      assert.ok(await sessions.authenticate(token), `alive after ${(i + 1) * 20} min of use`);
    }
    // …left alone for 31 minutes, it is gone.
    clock.advance(31 * 60_000);
    assert.equal(await sessions.authenticate(token), null);

    const second = await sessions.create(alice.id, { kind: 'cookie', methods: ['passkey'] });
    for (let elapsed = 0; elapsed < 12 * 60; elapsed += 25) {
      clock.advance(25 * 60_000);
      if (elapsed + 25 >= 12 * 60) break;
      assert.ok(await sessions.authenticate(second.token));
    }
    clock.advance(60 * 60_000);
    assert.equal(await sessions.authenticate(second.token), null, 'absolute lifetime');
  });

  it('lists own sessions; revokes own; refuses to revoke another user’s', async (t) => {
    const { sessions, alice, bob } = await setup(t);
    const a1 = await sessions.create(alice.id, {
      kind: 'cookie',
      methods: ['passkey'],
      device: 'Firefox on Linux',
    });
    const a2 = await sessions.create(alice.id, { kind: 'bearer', methods: ['passkey'] });
    const b1 = await sessions.create(bob.id, { kind: 'cookie', methods: ['passkey'] });
    const list = await sessions.list(alice.id, a1.session.id);
    assert.deepEqual(list.map((s) => s.id).sort(), [a1.session.id, a2.session.id].sort());
    assert.equal(list.find((s) => s.current)?.device, 'Firefox on Linux');

    await assert.rejects(
      sessions.revokeOwn(alice.id, b1.session.id),
      (e: { code?: string }) => e.code === 'not_found',
    );
    assert.ok(await sessions.authenticate(b1.token), 'bob unaffected');
    await sessions.revokeOwn(alice.id, a2.session.id);
    assert.equal(await sessions.authenticate(a2.token), null);
    assert.ok(await sessions.authenticate(a1.token));

    assert.equal(await sessions.revokeAllForUser(alice.id, 'admin'), 1);
    assert.equal(await sessions.authenticate(a1.token), null);
  });

  it('a disabled account’s sessions stop working', async (t) => {
    const { sessions, identity, alice } = await setup(t);
    const { token } = await sessions.create(alice.id, { kind: 'cookie', methods: ['passkey'] });
    await identity.users.setStatus(alice.id, 'disabled');
    assert.equal(await sessions.authenticate(token), null);
  });

  it('step-up holds for five minutes', async (t) => {
    const { sessions, clock, alice } = await setup(t);
    const { token, session } = await sessions.create(alice.id, {
      kind: 'cookie',
      methods: ['password'],
    });
    const actor = await sessions.authenticate(token);
    assert.ok(actor);
    assert.throws(
      () => sessions.requireRecentStepUp(actor),
      (e: { code?: string }) => e.code === 'step_up_required',
    );
    await sessions.markSteppedUp(session.id);
    const fresh = await sessions.authenticate(token);
    assert.ok(fresh);
    sessions.requireRecentStepUp(fresh);
    clock.advance(STEP_UP_WINDOW_MS + 1000);
    assert.throws(
      () => sessions.requireRecentStepUp(fresh),
      (e: { code?: string }) => e.code === 'step_up_required',
    );
  });
});
