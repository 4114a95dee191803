import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Ed25519NoteSigner } from '@bulwark/ledger';
import { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import { RootKey } from '../../keys/root-key.ts';
import { createStorage, type Storage } from '../../storage/storage.ts';
import { buildIdentityContext, type IdentityContext } from '../context.ts';
import type { Actor } from '../sessions/service.ts';
import type { PasskeyPolicy } from './policy.ts';
import type { Options, WarnLogger } from './service.ts';
import { issueSetupLink, SETUP_LINK_TTL_MS } from './setup-link.ts';
import { SoftAuthenticator } from './soft-authenticator.ts';

const ORIGIN = 'https://localhost:8443';

interface Fixture {
  identity: IdentityContext;
  storage: Storage;
  ledger: AuditLedger;
  clock: { now(): Date; advance(ms: number): void };
}

/** A real, migrated SQLite storage in a temporary directory. */
async function fixture(t: TestContext, policy?: PasskeyPolicy): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-passkeys-'));
  const root = RootKey.generate(`bwk_${randomBytes(10).toString('hex')}`);
  const storage = await createStorage({ backend: 'sqlite', path: join(dir, 'bulwark.db') }, root);
  let now = Date.parse('2026-01-10T10:00:00Z');
  const clock = { now: () => new Date(now), advance: (ms: number) => (now += ms) };
  const identity = buildIdentityContext({
    storage,
    root,
    clock,
    relyingParty: { id: 'localhost', name: 'Bulwark', origins: [ORIGIN] },
    ...(policy ? { passkeyPolicy: policy } : {}),
  });
  const seed = root.derive('ledgerSigning');
  const ledger = new AuditLedger({
    storage,
    signer: new Ed25519NoteSigner(`bulwark/${root.installationId}`, seed.bytes()),
    clock,
    hashSource: (source) => identity.hasher.hash('audit-source', source),
  });
  seed.wipe();
  t.after(async () => {
    identity.wipe();
    await storage.close();
    root.wipe();
    rmSync(dir, { recursive: true, force: true });
  });
  return { identity, storage, ledger, clock };
}

/** A setup link issued by the operator (recorded in the fixture's ledger). */
const newSetupLink = (f: Fixture) =>
  issueSetupLink(f.identity, f.ledger, { kind: 'operator', channel: 'api' });

const tokenOf = (url: string) => url.split('#')[1] ?? '';

async function rejects(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof BulwarkError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Registers the first admin through a setup link; returns their authenticator and session token. */
async function setupAdmin(f: Fixture, auth = new SoftAuthenticator()) {
  const link = await newSetupLink(f);
  const token = tokenOf(link.setupUrl);
  const { challengeId, options } = await f.identity.passkeys.startSetup({
    token,
    displayName: 'Ada',
    username: 'ada',
  });
  const session = await f.identity.passkeys.finishSetup({
    token,
    challengeId,
    response: auth.register(options, ORIGIN),
  });
  return { auth, token, session };
}

async function actorFor(f: Fixture, sessionToken: string): Promise<Actor> {
  const actor = await f.identity.sessions.authenticate(sessionToken);
  assert.ok(actor);
  return actor;
}

async function login(
  f: Fixture,
  auth: SoftAuthenticator,
  opts: Parameters<SoftAuthenticator['assert']>[2] = {},
  log?: WarnLogger,
) {
  const { challengeId, options } = await f.identity.passkeys.startLogin();
  const response = auth.assert(
    { challenge: options.challenge, rpId: options.rpId ?? 'localhost' },
    ORIGIN,
    opts,
  );
  return f.identity.passkeys.finishLogin({
    challengeId,
    response,
    session: 'bearer',
    ...(log ? { log } : {}),
  });
}

function recordingLog() {
  const warnings: string[] = [];
  const log: WarnLogger = { warn: (_f, msg) => warnings.push(msg), info() {} };
  return { log, warnings };
}

describe('setup link', () => {
  it('creates the first admin once; the link and further links are refused afterwards', async (t) => {
    const f = await fixture(t);
    const link = await newSetupLink(f);
    assert.match(link.setupUrl, /^https:\/\/localhost:8443\/setup#[A-Za-z0-9_-]{43}$/);
    assert.equal(Date.parse(link.expiresAt) - f.clock.now().getTime(), SETUP_LINK_TTL_MS);

    const { token, session } = await setupAdmin(f);
    assert.equal(session.user.isAdmin, true);
    assert.equal(session.user.username, 'ada');
    const actor = await actorFor(f, session.token);
    assert.deepEqual(actor.methods, ['passkey']);
    assert.ok(actor.stepUpAt, 'a passkey login counts as a step-up');

    await rejects(
      f.identity.passkeys.startSetup({ token, displayName: 'Eve', username: 'eve' }),
      'link_invalid',
    );
    await rejects(newSetupLink(f), 'forbidden');
  });

  it('an expired link is refused', async (t) => {
    const f = await fixture(t);
    const token = tokenOf((await newSetupLink(f)).setupUrl);
    f.clock.advance(SETUP_LINK_TTL_MS + 1);
    await rejects(
      f.identity.passkeys.startSetup({ token, displayName: 'Ada', username: 'ada' }),
      'link_invalid',
    );
  });

  it('a failed ceremony leaves the link usable; a challenge from another link is refused', async (t) => {
    const f = await fixture(t);
    const token = tokenOf((await newSetupLink(f)).setupUrl);
    const other = tokenOf((await newSetupLink(f)).setupUrl);
    const auth = new SoftAuthenticator();
    const first = await f.identity.passkeys.startSetup({
      token,
      displayName: 'A',
      username: 'ada',
    });
    await rejects(
      f.identity.passkeys.finishSetup({
        token,
        challengeId: first.challengeId,
        response: auth.register(first.options, 'https://evil.example'),
      }),
      'webauthn_failed',
      /origin/,
    );
    const second = await f.identity.passkeys.startSetup({
      token,
      displayName: 'A',
      username: 'ada',
    });
    await rejects(
      f.identity.passkeys.finishSetup({
        token: other,
        challengeId: second.challengeId,
        response: auth.register(second.options, ORIGIN),
      }),
      'link_invalid',
    );
    assert.equal(await f.identity.passkeys.adminExists(), false);
    const third = await f.identity.passkeys.startSetup({
      token,
      displayName: 'A',
      username: 'ada',
    });
    const done = await f.identity.passkeys.finishSetup({
      token,
      challengeId: third.challengeId,
      response: auth.register(third.options, ORIGIN),
    });
    assert.equal(done.user.isAdmin, true);
  });

  it('registration options follow the rules (UV and resident key required, direct attestation, handle as user id)', async (t) => {
    const f = await fixture(t);
    const token = tokenOf((await newSetupLink(f)).setupUrl);
    const { options } = await f.identity.passkeys.startSetup({
      token,
      displayName: 'A',
      username: 'ada',
    });
    assert.equal(options.attestation, 'direct');
    assert.equal(options.authenticatorSelection?.userVerification, 'required');
    assert.equal(options.authenticatorSelection?.residentKey, 'required');
    assert.equal(Buffer.from(options.user.id, 'base64url').length, 32);
  });

  it('refuses an authenticator that did not verify the user', async (t) => {
    const f = await fixture(t);
    const token = tokenOf((await newSetupLink(f)).setupUrl);
    const { challengeId, options } = await f.identity.passkeys.startSetup({
      token,
      displayName: 'A',
      username: 'ada',
    });
    await rejects(
      f.identity.passkeys.finishSetup({
        token,
        challengeId,
        response: new SoftAuthenticator().register(options, ORIGIN, { userVerified: false }),
      }),
      'webauthn_failed',
    );
  });
});

describe('passkey policy at registration', () => {
  it('requireHardwareBound refuses a synced passkey', async (t) => {
    const f = await fixture(t, { requireHardwareBound: true });
    await assert.rejects(
      setupAdmin(f, new SoftAuthenticator({ backupEligible: true })),
      (err: unknown) => {
        assert.ok(err instanceof BulwarkError);
        assert.equal(err.code, 'method_not_allowed_by_policy');
        assert.match(err.message, /hardware-bound/);
        return true;
      },
    );
    assert.equal(await f.identity.passkeys.adminExists(), false);
    const { session } = await setupAdmin(f, new SoftAuthenticator());
    assert.equal(session.user.isAdmin, true);
  });

  it('an AAGUID allow-list admits only the listed model', async (t) => {
    const listed = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
    const f = await fixture(t, { allowedAaguids: [listed] });
    await assert.rejects(setupAdmin(f, new SoftAuthenticator()), /only specific authenticator/);
    const { session } = await setupAdmin(f, new SoftAuthenticator({ aaguid: listed }));
    const actor = await actorFor(f, session.token);
    const [passkey] = await f.identity.passkeys.list(actor.userId);
    assert.equal(passkey?.aaguid, listed);
  });
});

describe('passkey login', () => {
  it('logs in with the discoverable passkey and records the use', async (t) => {
    const f = await fixture(t);
    const { auth } = await setupAdmin(f);
    const { options } = await f.identity.passkeys.startLogin();
    assert.equal(options.userVerification, 'required');
    assert.equal(options.allowCredentials, undefined, 'discoverable: no credential list');
    const session = await login(f, auth);
    assert.equal(session.user.username, 'ada');
    const actor = await actorFor(f, session.token);
    const [passkey] = await f.identity.passkeys.list(actor.userId);
    assert.equal(passkey?.lastUsedAt, f.clock.now().toISOString());
  });

  it('refuses a replayed assertion', async (t) => {
    const f = await fixture(t);
    const { auth } = await setupAdmin(f);
    const { challengeId, options } = await f.identity.passkeys.startLogin();
    const response = auth.assert({ challenge: options.challenge }, ORIGIN);
    await f.identity.passkeys.finishLogin({ challengeId, response, session: 'bearer' });
    await rejects(
      f.identity.passkeys.finishLogin({ challengeId, response, session: 'bearer' }),
      'login_failed',
    );
  });

  it('refuses a counter that does not increase (possible clone), logs a warning and changes nothing', async (t) => {
    const f = await fixture(t);
    const { auth, session } = await setupAdmin(f);
    await login(f, auth, { counter: 5 });
    const { log, warnings } = recordingLog();
    await rejects(login(f, auth, { counter: 5 }, log), 'login_failed');
    await rejects(login(f, auth, { counter: 3 }, log), 'login_failed');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0] ?? '', /cloned authenticator/);
    const actor = await actorFor(f, session.token);
    const before = (await f.identity.passkeys.list(actor.userId))[0]?.lastUsedAt;
    f.clock.advance(1000);
    await login(f, auth, { counter: 6 });
    const after = (await f.identity.passkeys.list(actor.userId))[0]?.lastUsedAt;
    assert.notEqual(after, before);
  });

  it('allows counters that stay at zero (authenticators without a counter)', async (t) => {
    const f = await fixture(t);
    const { auth } = await setupAdmin(f);
    await login(f, auth, { counter: 0 });
    await login(f, auth, { counter: 0 });
  });

  it('refuses a user handle that is not the owner’s, a missing handle, a wrong origin and no UV', async (t) => {
    const f = await fixture(t);
    const { auth } = await setupAdmin(f);
    const otherHandle = randomBytes(32).toString('base64url');
    await rejects(login(f, auth, { userHandle: otherHandle }), 'login_failed');
    await rejects(login(f, auth, { userHandle: null }), 'login_failed');
    await rejects(login(f, auth, { userVerified: false }), 'login_failed');
    const { challengeId, options } = await f.identity.passkeys.startLogin();
    await rejects(
      f.identity.passkeys.finishLogin({
        challengeId,
        response: auth.assert({ challenge: options.challenge }, 'https://evil.example'),
        session: 'cookie',
      }),
      'login_failed',
    );
    await login(f, auth);
  });

  it('refuses an unknown credential and a disabled account', async (t) => {
    const f = await fixture(t);
    const { auth, session } = await setupAdmin(f);
    await rejects(login(f, new SoftAuthenticator()), 'login_failed');
    await f.storage.db
      .updateTable('users')
      .set({ status: 'disabled' })
      .where('id', '=', session.user.id)
      .execute();
    await rejects(login(f, auth), 'login_failed');
  });

  it('refuses an expired challenge', async (t) => {
    const f = await fixture(t);
    const { auth } = await setupAdmin(f);
    const { challengeId, options } = await f.identity.passkeys.startLogin();
    f.clock.advance(10 * 60_000);
    await rejects(
      f.identity.passkeys.finishLogin({
        challengeId,
        response: auth.assert({ challenge: options.challenge }, ORIGIN),
        session: 'bearer',
      }),
      'login_failed',
      /expired/,
    );
  });
});

describe('managing passkeys', () => {
  async function addPasskey(f: Fixture, actor: Actor, auth: SoftAuthenticator) {
    const {
      challengeId,
      options,
    }: Options<{
      challenge: string;
      rp: { id?: string };
      user: { id: string };
      excludeCredentials?: { id: string }[];
    }> = await f.identity.passkeys.startRegistration(actor);
    return {
      options,
      passkey: await f.identity.passkeys.finishRegistration(actor, {
        challengeId,
        response: auth.register(options, ORIGIN),
        name: 'Spare key',
      }),
    };
  }

  it('adds another passkey (excluding existing ones), renames, refuses removing the last', async (t) => {
    const f = await fixture(t);
    const { auth, session } = await setupAdmin(f);
    const actor = await actorFor(f, session.token);
    const [first] = await f.identity.passkeys.list(actor.userId);
    assert.ok(first);
    await rejects(f.identity.passkeys.remove(actor.userId, first.id), 'last_factor');

    const spare = new SoftAuthenticator();
    const { options, passkey } = await addPasskey(f, actor, spare);
    assert.deepEqual(
      options.excludeCredentials?.map((c) => c.id),
      [auth.id],
    );
    assert.equal(options.user.id, spare.userHandle);
    assert.equal(passkey.name, 'Spare key');
    // The new passkey logs in as the same user (same user handle).
    assert.equal((await login(f, spare)).user.id, actor.userId);

    assert.equal(
      (await f.identity.passkeys.rename(actor.userId, first.id, 'Laptop')).name,
      'Laptop',
    );
    await f.identity.passkeys.remove(actor.userId, first.id);
    await rejects(login(f, auth), 'login_failed');
    await rejects(f.identity.passkeys.remove(actor.userId, passkey.id), 'last_factor');
  });

  it('refuses registering the same credential twice and touching another user’s passkey', async (t) => {
    const f = await fixture(t);
    const { auth, session } = await setupAdmin(f);
    const actor = await actorFor(f, session.token);
    await rejects(addPasskey(f, actor, auth), 'webauthn_failed', /registered already/);
    const other = await f.identity.users.create({ displayName: 'Bob' });
    await rejects(f.identity.passkeys.rename(other.id, auth.id, 'mine'), 'not_found');
    await rejects(f.identity.passkeys.remove(other.id, auth.id), 'not_found');
  });

  it('step-up: a fresh passkey proof marks the session', async (t) => {
    const f = await fixture(t);
    const { auth, session } = await setupAdmin(f);
    f.clock.advance(10 * 60_000);
    let actor = await actorFor(f, session.token);
    assert.throws(() => f.identity.sessions.requireRecentStepUp(actor), /fresh confirmation/);
    const { challengeId, options } = await f.identity.passkeys.startStepUp(actor);
    assert.deepEqual(
      options.allowCredentials?.map((c) => c.id),
      [auth.id],
    );
    await f.identity.passkeys.finishStepUp(actor, {
      challengeId,
      response: auth.assert({ challenge: options.challenge }, ORIGIN),
    });
    actor = await actorFor(f, session.token);
    f.identity.sessions.requireRecentStepUp(actor);

    // A login challenge cannot be used as a step-up (and vice versa).
    const loginChallenge = await f.identity.passkeys.startLogin();
    await rejects(
      f.identity.passkeys.finishStepUp(actor, {
        challengeId: loginChallenge.challengeId,
        response: auth.assert({ challenge: loginChallenge.options.challenge }, ORIGIN),
      }),
      'webauthn_failed',
    );
  });
});
