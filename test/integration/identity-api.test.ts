/**
 * The identity API over real HTTPS: the auth hook, sessions, step-up, TOTP,
 * recovery codes, passwords with a second factor, and SMS through a real
 * HTTP gateway on loopback. Passkeys have their own browser test.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

type Json = Record<string, unknown>;

function code(answer: { json: unknown }): string | undefined {
  return (answer.json as { error?: { code: string } }).error?.code;
}

async function ready(t: TestContext, config?: Record<string, unknown>) {
  const dataDir = tempDir(t);
  const server = await startTestServer(t, { dataDir, ...(config ? { config } : {}) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'identity api passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  return server;
}

async function login(
  server: TestServer,
  opts: { username: string; admin?: boolean; stepUp?: boolean },
) {
  const identity = server.handle.identity();
  const user =
    (await identity.users.findByUsername(opts.username)) ??
    (await identity.users.create({
      displayName: opts.username,
      username: opts.username,
      isAdmin: opts.admin ?? false,
      orgRole: opts.admin ? 'owner' : 'member',
    }));
  const { token, session } = await identity.sessions.create(user.id, {
    kind: 'bearer',
    methods: ['passkey'],
    stepUp: opts.stepUp ?? false,
  });
  const auth = { authorization: `Bearer ${token}` };
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    server.request(path, { ...init, headers: auth });
  return { user, token, session, call };
}

function totpFor(uri: string) {
  const secret = new URL(uri).searchParams.get('secret') ?? '';
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
}

describe('identity API', () => {
  it('the auth hook: no token, a bad token, a cookie, a bearer, admin and step-up', async (t) => {
    const server = await ready(t);
    assert.equal(code(await server.request('/v1/sessions')), 'unauthenticated');
    const forged = await server.request('/v1/sessions', {
      headers: { authorization: `Bearer bws_${'A'.repeat(43)}` },
    });
    assert.equal(forged.status, 401);

    const alice = await login(server, { username: 'alice' });
    const list = await alice.call('/v1/sessions');
    assert.equal(list.status, 200, list.body);
    assert.equal((list.json as { sessions: Json[] }).sessions.length, 1);

    const identity = server.handle.identity();
    const cookieSession = await identity.sessions.create(alice.user.id, {
      kind: 'cookie',
      methods: ['passkey'],
    });
    const viaCookie = await server.request('/v1/sessions', {
      headers: { cookie: `other=1; __Host-bulwark_session=${cookieSession.token}` },
    });
    assert.equal(viaCookie.status, 200);

    // Not an admin.
    assert.equal(code(await alice.call(`/v1/admin/users/${alice.user.id}/sessions`)), 'forbidden');
    const admin = await login(server, { username: 'root', admin: true });
    assert.equal((await admin.call(`/v1/admin/users/${alice.user.id}/sessions`)).status, 200);
    // Revoking someone's sessions is sensitive: it needs a fresh step-up.
    const revoke = `/v1/admin/users/${alice.user.id}/sessions/revoke`;
    assert.equal(code(await admin.call(revoke, { method: 'POST', body: {} })), 'step_up_required');
    const stepped = await login(server, { username: 'root', stepUp: true });
    const revoked = await stepped.call(revoke, { method: 'POST', body: {} });
    assert.equal(revoked.status, 200, revoked.body);
    assert.equal((revoked.json as { revoked: number }).revoked, 2);
    assert.equal((await alice.call('/v1/sessions')).status, 401, 'alice was logged out everywhere');
  });

  it('sessions: list with the current one marked, revoke one, revoke the others', async (t) => {
    const server = await ready(t);
    const a = await login(server, { username: 'alice' });
    const b = await login(server, { username: 'alice' });
    const c = await login(server, { username: 'alice' });
    const sessions = (
      (await a.call('/v1/sessions')).json as { sessions: { id: string; current: boolean }[] }
    ).sessions;
    assert.equal(sessions.length, 3);
    assert.equal(sessions.find((s) => s.current)?.id, a.session.id);
    assert.equal((await a.call(`/v1/sessions/${b.session.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await b.call('/v1/sessions')).status, 401);
    assert.equal(
      code(await a.call('/v1/sessions/not-a-uuid', { method: 'DELETE' })),
      'bad_request',
    );
    const others = await a.call('/v1/sessions/revoke-others', { method: 'POST', body: {} });
    assert.equal((others.json as { revoked: number }).revoked, 1);
    assert.equal((await c.call('/v1/sessions')).status, 401);
    assert.equal((await a.call('/v1/sessions')).status, 200);
  });

  it('TOTP: enrol needs step-up, confirm, step up with a code, a replayed code is refused', async (t) => {
    const server = await ready(t);
    const plain = await login(server, { username: 'tess' });
    assert.equal(
      code(await plain.call('/v1/me/totp', { method: 'POST', body: {} })),
      'step_up_required',
    );
    const fresh = await login(server, { username: 'tess', stepUp: true });
    const enrol = await fresh.call('/v1/me/totp', { method: 'POST', body: {} });
    assert.equal(enrol.status, 200, enrol.body);
    const { uri, qrSvg } = enrol.json as { uri: string; qrSvg: string };
    assert.match(uri, /^otpauth:\/\/totp\//);
    assert.match(qrSvg, /<svg/);
    const totp = totpFor(uri);
    assert.equal(
      code(await fresh.call('/v1/me/totp/confirm', { method: 'POST', body: { code: '000000' } })),
      'bad_request',
    );
    // The code used to confirm cannot be used again.
    const current = totp.generate();
    assert.equal(
      (await fresh.call('/v1/me/totp/confirm', { method: 'POST', body: { code: current } })).status,
      200,
    );
    const replay = await plain.call('/v1/auth/step-up/totp', {
      method: 'POST',
      body: { code: current },
    });
    assert.equal(code(replay), 'login_failed');
    // The next time step's code (accepted within ±1 step) steps the session up.
    const next = totp.generate({ timestamp: Date.now() + 30_000 });
    const up = await plain.call('/v1/auth/step-up/totp', {
      method: 'POST',
      body: { code: `${next.slice(0, 3)} ${next.slice(3)}` },
    });
    assert.equal(up.status, 200, up.body);
    assert.equal(
      (await plain.call('/v1/me/recovery-codes', { method: 'POST', body: {} })).status,
      200,
      'stepped up now',
    );
  });

  it('recovery codes: shown once, log in once each, throttled after failures', async (t) => {
    const server = await ready(t);
    const rita = await login(server, { username: 'rita', stepUp: true });
    const generated = await rita.call('/v1/me/recovery-codes', { method: 'POST', body: {} });
    const codes = (generated.json as { codes: string[] }).codes;
    assert.equal(codes.length, 10);
    const first = await server.request('/v1/auth/login/recovery', {
      method: 'POST',
      body: { username: 'rita', code: codes[0], session: 'bearer' },
    });
    assert.equal(first.status, 200, first.body);
    assert.equal((first.json as { remainingCodes: number }).remainingCodes, 9);
    const token = (first.json as { token: string }).token;
    assert.equal(
      (await server.request('/v1/sessions', { headers: { authorization: `Bearer ${token}` } }))
        .status,
      200,
    );
    const again = await server.request('/v1/auth/login/recovery', {
      method: 'POST',
      body: { username: 'rita', code: codes[0] },
    });
    assert.equal(code(again), 'login_failed');
    // Unknown user: the same answer.
    const unknown = await server.request('/v1/auth/login/recovery', {
      method: 'POST',
      body: { username: 'nobody', code: codes[1] },
    });
    assert.equal(code(unknown), 'login_failed');
    assert.equal(
      (unknown.json as { error: { message: string } }).error.message,
      (again.json as { error: { message: string } }).error.message,
    );
    // Guessing: after the free failures the account is throttled, even for a right code.
    for (let i = 0; i < 5; i++) {
      await server.request('/v1/auth/login/recovery', {
        method: 'POST',
        body: { username: 'rita', code: 'aaaa-bbbb-cccc-dddd' },
      });
    }
    const throttled = await server.request('/v1/auth/login/recovery', {
      method: 'POST',
      body: { username: 'rita', code: codes[1] },
    });
    assert.equal(throttled.status, 429, throttled.body);
  });

  it('passwords are refused unless allowed; when allowed they need a second factor', async (t) => {
    const off = await ready(t);
    const refused = await off.request('/v1/auth/login/password', {
      method: 'POST',
      body: { username: 'x', password: 'whatever it is' },
    });
    assert.equal(code(refused), 'method_not_allowed_by_policy');

    const server = await ready(t, { auth: { passwords: true } });
    const pat = await login(server, { username: 'pat', stepUp: true });
    const weak = await pat.call('/v1/me/password', {
      method: 'PUT',
      body: { password: 'password1234' },
    });
    assert.equal(code(weak), 'bad_request');
    assert.match(
      (weak.json as { error: { message: string } }).error.message,
      /common|breached|list/i,
    );
    const other = await login(server, { username: 'pat' });
    const set = await pat.call('/v1/me/password', {
      method: 'PUT',
      body: { password: 'violet staple orbit 42' },
    });
    assert.equal(set.status, 204, set.body);
    assert.equal(
      (await other.call('/v1/sessions')).status,
      401,
      'a new password ends the other sessions',
    );

    // A password without any second factor enrolled makes no session.
    const noFactor = await server.request('/v1/auth/login/password', {
      method: 'POST',
      body: { username: 'pat', password: 'violet staple orbit 42' },
    });
    assert.equal(code(noFactor), 'login_failed');

    const codes = (
      (await pat.call('/v1/me/recovery-codes', { method: 'POST', body: {} })).json as {
        codes: string[];
      }
    ).codes;
    const wrong = await server.request('/v1/auth/login/password', {
      method: 'POST',
      body: { username: 'pat', password: 'violet staple orbit 43' },
    });
    assert.equal(code(wrong), 'login_failed');
    const step1 = await server.request('/v1/auth/login/password', {
      method: 'POST',
      body: { username: 'pat', password: 'violet staple orbit 42' },
    });
    assert.equal(step1.status, 200, step1.body);
    const pending = (step1.json as { secondFactor: { challengeId: string; methods: string[] } })
      .secondFactor;
    assert.deepEqual(pending.methods, ['recovery-code']);
    assert.equal('token' in (step1.json as Json), false, 'no session yet');
    const bad = await server.request('/v1/auth/login/second-factor', {
      method: 'POST',
      body: {
        challengeId: pending.challengeId,
        method: 'recovery-code',
        code: 'zzzz-zzzz-zzzz-zzzz',
        session: 'bearer',
      },
    });
    assert.equal(code(bad), 'login_failed');
    const step2 = await server.request('/v1/auth/login/second-factor', {
      method: 'POST',
      body: {
        challengeId: pending.challengeId,
        method: 'recovery-code',
        code: codes[3],
        session: 'bearer',
      },
    });
    assert.equal(step2.status, 200, step2.body);
    assert.deepEqual((step2.json as { session: { methods: string[] } }).session.methods, [
      'password',
      'recovery-code',
    ]);
    const replay = await server.request('/v1/auth/login/second-factor', {
      method: 'POST',
      body: {
        challengeId: pending.challengeId,
        method: 'recovery-code',
        code: codes[4],
        session: 'bearer',
      },
    });
    assert.equal(code(replay), 'login_failed', 'the pending login is single use');
  });

  it('SMS through a real HTTP gateway: off by default, labelled insecure, codes work once', async (t) => {
    const sent: { to: string; text: string; auth: string | undefined }[] = [];
    const gateway = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { to: string; text: string };
        sent.push({ ...parsed, auth: req.headers.authorization });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    t.after(() => gateway.close());
    const address = gateway.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const tokenDir = tempDir(t);
    writeFileSync(join(tokenDir, 'sms.token'), 'gateway-secret-token\n');

    const off = await ready(t);
    const offUser = await login(off, { username: 'sam', stepUp: true });
    assert.equal(
      (await offUser.call('/v1/me/sms', { method: 'POST', body: { phone: '+41790000000' } }))
        .status,
      404,
    );

    const server = await ready(t, {
      auth: {
        passwords: true,
        sms: {
          enabled: true,
          provider: 'http-gateway',
          url: `http://127.0.0.1:${port}/send`,
          bearerTokenFile: join(tokenDir, 'sms.token'),
        },
      },
    });
    const sam = await login(server, { username: 'sam', stepUp: true });
    const enrol = await sam.call('/v1/me/sms', { method: 'POST', body: { phone: '+41790000000' } });
    assert.equal(enrol.status, 200, enrol.body);
    assert.equal((enrol.json as { insecure: boolean }).insecure, true);
    assert.match((enrol.json as { warning: string }).warning, /not secure/);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.to, '+41790000000');
    assert.equal(sent[0]?.auth, 'Bearer gateway-secret-token');
    const smsCode = /\d{6}/.exec(sent[0]?.text ?? '')?.[0] ?? '';
    const challengeId = (enrol.json as { challengeId: string }).challengeId;
    const confirm = await sam.call('/v1/me/sms/confirm', {
      method: 'POST',
      body: { challengeId, code: smsCode },
    });
    assert.equal(confirm.status, 200, confirm.body);
    assert.equal((confirm.json as { confirmed: boolean }).confirmed, true);
    const reuse = await sam.call('/v1/me/sms/confirm', {
      method: 'POST',
      body: { challengeId, code: smsCode },
    });
    assert.equal(code(reuse), 'bad_request', 'a code works once');
    assert.equal(
      JSON.stringify((await sam.call('/v1/me/sms')).json).includes('"insecure":true'),
      true,
    );
    const recorded = (await server.handle.ledger().entries(0, 1000)).map((e) => e.entry.action);
    assert.ok(recorded.includes('sms.enrol'), 'the number change is in the ledger');
    assert.ok(recorded.includes('sms.confirm'), 'the confirmation is in the ledger');
  });
});
