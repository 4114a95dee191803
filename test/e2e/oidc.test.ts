/**
 * OIDC login end to end against a real OpenID Provider (panva's
 * oidc-provider on loopback) and a real, initialised Bulwark server: the
 * OIDC routes run in an app built by buildApp on the server's own seal,
 * identity and TLS material (server.ts does not mount them yet), so the
 * session a login makes is checked on the real server's /v1/sessions.
 *
 * Refusals: wrong state, replayed callback, another browser, a callback
 * from another issuer, tampered or foreign-signed ID tokens, a domain not
 * allowed, an unverified email, an email owned by a local account. Each
 * answers login_failed with no session, logs a warning and changes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import type { AuditEntry } from '../../packages/server/src/audit/ledger/entry.ts';
import { buildApp } from '../../packages/server/src/http/app.ts';
import {
  type OidcConnectorInput,
  oidcConnectorSchema,
} from '../../packages/server/src/identity/oidc/config.ts';
import {
  OIDC_BINDING_COOKIE,
  registerOidcRoutes,
} from '../../packages/server/src/identity/oidc/routes.ts';
import { OidcService } from '../../packages/server/src/identity/oidc/service.ts';
import { SESSION_COOKIE } from '../../packages/server/src/identity/session-cookie.ts';
import {
  CookieBrowser,
  type Hop,
  startOidcProvider,
  type TestAccount,
  type TestOidcProvider,
} from '../support/oidc-provider.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const alice: TestAccount = {
  preferred_username: 'alice',
  name: 'Alice Liddell',
  email: 'alice@example.org',
  email_verified: true,
  groups: ['staff', 'bulwark-admins'],
};
const bob: TestAccount = {
  preferred_username: 'bob',
  name: 'Bob Builder',
  email: 'bob@example.org',
  email_verified: true,
  groups: ['staff'],
};

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
  cause?: { code?: string; message?: string; detail?: string };
}

interface Env {
  server: TestServer;
  origin: string;
  provider: TestOidcProvider;
  browser: CookieBrowser;
  logs: LogLine[];
  /** GET /start → the provider's authorization URL. */
  start(browser?: CookieBrowser): Promise<string>;
  /** start + the provider's login: the callback URL the provider sends the browser to. */
  authorize(browser?: CookieBrowser): Promise<string>;
  callback(url: string, browser?: CookieBrowser): Promise<Hop>;
  counts(): Promise<{ users: number; links: number; sessions: number }>;
  /** The ledger's entries about accounts (not the init's setup link), oldest first. */
  userEntries(): Promise<AuditEntry[]>;
  /** Makes every ledger write fail (the next sequence number is taken); returns the undo. */
  breakLedger(): Promise<() => Promise<void>>;
}

async function setup(
  t: TestContext,
  opts: {
    connector?: Partial<OidcConnectorInput>;
    accounts?: Record<string, TestAccount>;
    postgres?: { url: string; schema: string } | null;
  } = {},
): Promise<Env> {
  const dataDir = tempDir(t);
  const server = await startTestServer(t, { dataDir, postgres: opts.postgres ?? null });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'oidc end to end passphrase' },
  });
  assert.equal(init.status, 200, init.body);

  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
  );
  let service: OidcService | null = null;
  const identity = () => server.handle.identity();
  const app = await buildApp({
    tls: {
      key: readFileSync(join(dataDir, 'tls', 'server.key'), 'utf8'),
      cert: readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8'),
    },
    seal: server.handle.seal,
    version: 'test',
    logger,
    metricsEnabled: false,
    allowRemoteInit: false,
    identity,
    routes: [
      (a) =>
        registerOidcRoutes(a, {
          identity,
          audit: () => server.handle.ledger(),
          oidc: () => {
            if (!service) throw new Error('OIDC not configured yet');
            return service;
          },
        }),
    ],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const origin = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const provider = await startOidcProvider(t, {
    redirectUris: [`${origin}/v1/auth/oidc/corp/callback`],
    accounts: opts.accounts ?? { 'sub-alice': alice, 'sub-bob': bob },
  });
  const secretFile = join(dataDir, 'oidc-client-secret');
  writeFileSync(secretFile, `${provider.clientSecret}\n`, { mode: 0o600 });
  const config = oidcConnectorSchema.parse({
    id: 'corp',
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecretFile: secretFile,
    groupRoles: { 'bulwark-admins': 'admin' },
    ...opts.connector,
  });
  const ctx = identity();
  service = new OidcService({
    connectors: [config],
    storage: server.handle.storage(),
    users: ctx.users,
    challenges: ctx.challenges,
    clock: ctx.clock,
    publicOrigin: () => origin,
    allowInsecureHttpForTests: true,
  });

  const browser = new CookieBrowser({ ca: server.ca });
  const env: Env = {
    server,
    origin,
    provider,
    browser,
    logs,
    async start(b = browser) {
      const hop = await b.get(`${origin}/v1/auth/oidc/corp/start`);
      assert.equal(hop.status, 302, hop.body);
      assert.ok(hop.location?.startsWith(`${provider.issuer}/auth?`), hop.location ?? '');
      return hop.location ?? '';
    },
    async authorize(b = browser) {
      return b.followWithin(await env.start(b), provider.issuer);
    },
    callback: (url, b = browser) => b.get(url),
    async counts() {
      const db = server.handle.storage().db;
      const n = async (table: 'users' | 'oidc_identities' | 'sessions') =>
        Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string | number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return {
        users: await n('users'),
        links: await n('oidc_identities'),
        sessions: await n('sessions'),
      };
    },
    async userEntries() {
      const entries = await server.handle.ledger().entries(0, 10_000);
      return entries
        .map((e) => e.entry)
        .filter((e) => e.action.startsWith('user.') && e.action !== 'user.setup-link');
    },
    async breakLedger() {
      const db = server.handle.storage().db;
      const last = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max('seq').as('m'))
        .executeTakeFirstOrThrow();
      const seq = Number(last.m) + 1;
      await db
        .insertInto('audit_entries')
        .values({ seq, entry: '{}', leaf_hash: '00', created_at: 'x' })
        .execute();
      return async () => {
        await db.deleteFrom('audit_entries').where('seq', '=', seq).execute();
      };
    },
  };
  return env;
}

function sessionTokenFrom(hop: Hop): string | null {
  for (const line of hop.setCookies) {
    const match = new RegExp(`^${SESSION_COOKIE}=(bws_[A-Za-z0-9_-]{43});`).exec(line);
    if (match?.[1]) return match[1];
  }
  return null;
}

/** A refusal: login_failed, no session cookie, a warning with the reason, nothing changed. */
async function assertRefused(
  env: Env,
  hop: Hop,
  reason: string,
  before: { users: number; links: number; sessions: number },
): Promise<LogLine> {
  assert.equal(hop.status, 401, hop.body);
  const body = JSON.parse(hop.body) as {
    error: { code: string; message: string; details?: unknown };
  };
  assert.equal(body.error.code, 'login_failed');
  assert.deepEqual(body.error.details, { reason });
  assert.ok(body.error.message.length > 10);
  assert.equal(sessionTokenFrom(hop), null, 'no session cookie');
  const warning = env.logs.filter((l) => l.level === 40 && l.msg === 'OIDC login refused').at(-1);
  assert.equal(warning?.reason, reason, JSON.stringify(warning));
  assert.deepEqual(await env.counts(), before, 'nothing changed');
  return warning;
}

describe('OIDC login against a real provider', () => {
  it('code flow with PKCE makes a session, creates the user just in time, updates it next time', async (t) => {
    const env = await setup(t);
    const before = await env.counts();

    const authUrl = new URL(await env.start());
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authUrl.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(authUrl.searchParams.get('state') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(authUrl.searchParams.get('nonce') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(
      authUrl.searchParams.get('redirect_uri'),
      `${env.origin}/v1/auth/oidc/corp/callback`,
    );
    assert.ok(env.browser.cookie(new URL(env.origin).host, OIDC_BINDING_COOKIE));

    const callbackUrl = await env.browser.followWithin(authUrl.href, env.provider.issuer);
    const hop = await env.callback(callbackUrl);
    assert.equal(hop.status, 302, hop.body);
    assert.equal(hop.location, `${env.origin}/`);
    const token = sessionTokenFrom(hop);
    assert.ok(token, 'a session cookie');
    const cookieLine = hop.setCookies.find((l) => l.startsWith(`${SESSION_COOKIE}=`)) ?? '';
    assert.match(cookieLine, /HttpOnly; Secure; SameSite=Strict/);
    assert.equal(env.browser.cookie(new URL(env.origin).host, OIDC_BINDING_COOKIE), undefined);

    // The session works on the real server.
    const sessions = await env.server.request('/v1/sessions', {
      headers: { cookie: `${SESSION_COOKIE}=${token}` },
    });
    assert.equal(sessions.status, 200, sessions.body);
    const actor = await env.server.handle.identity().sessions.authenticate(token);
    assert.ok(actor);
    assert.deepEqual(actor.methods, ['oidc']);
    assert.equal(actor.stepUpAt, null, 'an OIDC login is not a step-up');

    const user = await env.server.handle.identity().users.get(actor.userId);
    assert.ok(user);
    assert.equal(user.source, 'oidc');
    assert.equal(user.displayName, 'Alice Liddell');
    assert.equal(user.email, 'alice@example.org');
    assert.equal(user.username, 'alice');
    assert.equal(user.isAdmin, true, 'bulwark-admins maps to admin');
    const after = await env.counts();
    assert.deepEqual(after, {
      users: before.users + 1,
      links: before.links + 1,
      sessions: before.sessions + 1,
    });
    // The account is in the ledger: made by the user themself, through OIDC.
    const [created, ...none] = await env.userEntries();
    assert.equal(none.length, 0, JSON.stringify(none));
    assert.equal(created?.action, 'user.create');
    assert.deepEqual(created?.target, { type: 'user', id: user.id });
    assert.equal(created?.actor.kind, 'user');
    assert.equal(created?.actor.userId, user.id);
    assert.equal(created?.actor.channel, 'oidc');
    assert.match(created?.actor.sourceHash ?? '', /^[0-9a-f]{64}$/);
    assert.equal(created?.beforeSha256, null);

    // The same claims again: nothing changes, nothing is recorded.
    const same = await env.callback(await env.authorize());
    assert.equal(same.status, 302, same.body);
    assert.equal((await env.userEntries()).length, 1, 'an unchanged login records nothing');

    // Second login: same account (by sub), profile refreshed, admin removed with the group.
    env.provider.accounts.set('sub-alice', {
      ...alice,
      name: 'Alice Pleasance Liddell',
      email: 'alice.liddell@example.org',
      groups: ['staff'],
    });
    const second = await env.callback(await env.authorize());
    assert.equal(second.status, 302, second.body);
    const actor2 = await env.server.handle
      .identity()
      .sessions.authenticate(sessionTokenFrom(second) ?? '');
    assert.equal(actor2?.userId, user.id);
    const updated = await env.server.handle.identity().users.get(user.id);
    assert.equal(updated?.displayName, 'Alice Pleasance Liddell');
    assert.equal(updated?.email, 'alice.liddell@example.org');
    assert.equal(updated?.isAdmin, false);
    assert.equal(
      (await env.server.handle.identity().users.findByEmail('alice.liddell@example.org'))?.id,
      user.id,
      'the email blind index follows the update',
    );
    assert.equal((await env.counts()).users, after.users, 'no second user');
    const [, update, ...rest] = await env.userEntries();
    assert.equal(rest.length, 0);
    assert.equal(update?.action, 'user.update');
    assert.deepEqual(update?.target, { type: 'user', id: user.id });
    assert.equal(update?.actor.userId, user.id);
    assert.equal(update?.actor.channel, 'oidc');
    assert.equal(update?.beforeSha256, created?.afterSha256, 'before is what create left');
    assert.notEqual(update?.afterSha256, update?.beforeSha256);

    // A second person, in another browser, gets their own account.
    env.provider.nextLogin = 'sub-bob';
    const other = new CookieBrowser({ ca: env.server.ca });
    const bobHop = await env.callback(await env.authorize(other), other);
    assert.equal(bobHop.status, 302, bobHop.body);
    const bobActor = await env.server.handle
      .identity()
      .sessions.authenticate(sessionTokenFrom(bobHop) ?? '');
    assert.ok(bobActor && bobActor.userId !== user.id);
    const bobUser = await env.server.handle.identity().users.get(bobActor.userId);
    assert.equal(bobUser?.displayName, 'Bob Builder');
    assert.equal(bobUser?.isAdmin, false);
    const bobCreated = (await env.userEntries()).filter(
      (e) => e.action === 'user.create' && e.target.id === bobUser?.id,
    );
    assert.equal(bobCreated.length, 1);
    assert.equal(bobCreated[0]?.actor.userId, bobUser?.id);
    assert.equal((await env.server.handle.ledger().verify()).ok, true);
  });

  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`fails closed (${backend}): when the ledger cannot be written, no account, no link, no session`, async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      if (backend === 'postgres' && !pg) return;
      const env = await setup(t, { postgres: pg });
      const before = await env.counts();
      let undo = await env.breakLedger();
      const hop = await env.callback(await env.authorize());
      assert.equal(hop.status, 500, hop.body);
      assert.equal(sessionTokenFrom(hop), null, 'no session cookie');
      assert.deepEqual(await env.counts(), before, 'nothing changed');
      await undo();

      // Working again: the account is made; a later change cannot pass a broken ledger either.
      const ok = await env.callback(await env.authorize());
      assert.equal(ok.status, 302, ok.body);
      const actor = await env.server.handle
        .identity()
        .sessions.authenticate(sessionTokenFrom(ok) ?? '');
      assert.ok(actor);
      env.provider.accounts.set('sub-alice', { ...alice, name: 'Alice Renamed' });
      undo = await env.breakLedger();
      const refused = await env.callback(await env.authorize());
      assert.equal(refused.status, 500, refused.body);
      assert.equal(
        (await env.server.handle.identity().users.get(actor.userId))?.displayName,
        'Alice Liddell',
        'not updated',
      );
      await undo();
      assert.equal((await env.callback(await env.authorize())).status, 302);
      assert.equal(
        (await env.server.handle.identity().users.get(actor.userId))?.displayName,
        'Alice Renamed',
      );
      assert.deepEqual(
        (await env.userEntries()).map((e) => e.action),
        ['user.create', 'user.update'],
      );
      assert.equal((await env.server.handle.ledger().verify()).ok, true);
    });
  }

  it('concurrent first logins of one person make one account and one entry (postgres)', async (t) => {
    const pg = await postgresSchema(t);
    if (!pg) return;
    const env = await setup(t, { postgres: pg });
    const other = new CookieBrowser({ ca: env.server.ca });
    const [one, two] = [await env.authorize(), await env.authorize(other)];
    // Hold the users table so that both callbacks find no link and then stop;
    // released together, their inserts collide, and the loser rolls back to
    // its savepoint and takes the winner's account.
    const db = env.server.handle.storage().db;
    const blocker = await db.startTransaction().execute();
    await sql`lock table users in access exclusive mode`.execute(blocker);
    const hops = [env.callback(one), env.callback(two, other)];
    let waiting = 0;
    for (let i = 0; i < 400 && waiting < 2; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const r = await sql<{ n: number }>`
        select count(*)::int as n from pg_locks
        where not granted and relation = 'users'::regclass`.execute(db);
      waiting = Number(r.rows[0]?.n ?? 0);
    }
    assert.equal(waiting, 2, 'both callbacks wait, having found no link');
    await blocker.commit().execute();
    const [a, b] = await Promise.all(hops);
    assert.equal(a?.status, 302, a?.body);
    assert.equal(b?.status, 302, b?.body);
    const identity = env.server.handle.identity();
    const [actorA, actorB] = [
      await identity.sessions.authenticate(sessionTokenFrom(a as Hop) ?? ''),
      await identity.sessions.authenticate(sessionTokenFrom(b as Hop) ?? ''),
    ];
    assert.ok(actorA && actorB);
    assert.equal(actorA.userId, actorB.userId, 'the same account');
    const counts = await env.counts();
    assert.equal(counts.users, 1);
    assert.equal(counts.links, 1);
    assert.deepEqual(
      (await env.userEntries()).map((e) => [e.action, e.target.id]),
      [['user.create', actorA.userId]],
    );
    assert.equal((await env.server.handle.ledger().verify()).ok, true);
  });

  it('refuses a wrong state, and the real callback still works afterwards', async (t) => {
    const env = await setup(t);
    const callbackUrl = await env.authorize();
    const before = await env.counts();
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', 'A'.repeat(43));
    await assertRefused(env, await env.callback(forged.href), 'state_invalid', before);
    const missing = new URL(callbackUrl);
    missing.searchParams.delete('state');
    await assertRefused(env, await env.callback(missing.href), 'state_invalid', before);
    // A forged state spends nothing: the real callback still logs in.
    const real = await env.callback(callbackUrl);
    assert.equal(real.status, 302, real.body);
    assert.ok(sessionTokenFrom(real));
  });

  it('refuses a replayed callback (same code and state)', async (t) => {
    const env = await setup(t);
    const callbackUrl = await env.authorize();
    const binding = env.browser.cookie(new URL(env.origin).host, OIDC_BINDING_COOKIE) ?? '';
    const first = await env.callback(callbackUrl);
    assert.equal(first.status, 302, first.body);
    const before = await env.counts();
    // Even with the binding cookie put back, the state was spent.
    env.browser.setCookie(new URL(env.origin).host, OIDC_BINDING_COOKIE, binding);
    await assertRefused(env, await env.callback(callbackUrl), 'state_invalid', before);
  });

  it('refuses a callback carried to another browser (login CSRF)', async (t) => {
    const env = await setup(t);
    const callbackUrl = await env.authorize();
    const before = await env.counts();
    const victim = new CookieBrowser({ ca: env.server.ca });
    await assertRefused(env, await env.callback(callbackUrl, victim), 'browser_mismatch', before);
  });

  it('refuses an authorization response from another issuer', async (t) => {
    const env = await setup(t);
    const other = await startOidcProvider(t, {
      redirectUris: [`${env.origin}/v1/auth/oidc/corp/callback`],
      accounts: { 'sub-alice': alice },
    });
    const before = await env.counts();
    // Our authorization request, answered by the other provider (same client id and redirect).
    for (const stripIss of [false, true]) {
      const authUrl = new URL(await env.start());
      const swapped = new URL(`${authUrl.pathname}${authUrl.search}`, other.issuer);
      const callbackUrl = new URL(await env.browser.followWithin(swapped.href, other.issuer));
      assert.equal(callbackUrl.searchParams.get('iss'), other.issuer);
      if (stripIss) callbackUrl.searchParams.delete('iss');
      await assertRefused(env, await env.callback(callbackUrl.href), 'issuer_mismatch', before);
    }
  });

  it('refuses an ID token with a tampered signature or signed by an unknown key', async (t) => {
    const env = await setup(t);
    const before = await env.counts();
    for (const how of ['flip-signature', 'foreign-key'] as const) {
      env.provider.tamper = how;
      const hop = await env.callback(await env.authorize());
      const warning = await assertRefused(env, hop, 'id_token_invalid', before);
      assert.equal(warning.cause?.detail, 'JWT signature verification failed');
    }
    env.provider.tamper = null;
    assert.equal((await env.callback(await env.authorize())).status, 302, 'untampered still works');
  });

  it('refuses ID tokens, validly signed, with a wrong nonce, audience, issuer or expiry', async (t) => {
    const env = await setup(t);
    const before = await env.counts();
    const now = Math.floor(Date.now() / 1000);
    type Spoiler = [(c: Record<string, unknown>) => Record<string, unknown>, RegExp];
    const spoilers: Record<string, Spoiler> = {
      nonce: [(c) => ({ ...c, nonce: 'not-the-nonce-we-sent' }), /"nonce"/],
      audience: [(c) => ({ ...c, aud: 'another-client' }), /"aud"/],
      issuer: [(c) => ({ ...c, iss: 'https://evil.example' }), /"iss"/],
      expiry: [(c) => ({ ...c, iat: now - 7200, exp: now - 3600 }), /"exp"/],
      subject: [
        (c) => {
          const { sub: _sub, ...rest } = c;
          return rest;
        },
        /"sub"/,
      ],
    };
    for (const [name, [claims, detail]] of Object.entries(spoilers)) {
      env.provider.tamper = { claims };
      const hop = await env.callback(await env.authorize());
      await t.test(name, async () => {
        const warning = await assertRefused(env, hop, 'id_token_invalid', before);
        assert.match(warning.cause?.detail ?? '', detail, JSON.stringify(warning));
      });
    }
    env.provider.tamper = { claims: (c) => c };
    assert.equal(
      (await env.callback(await env.authorize())).status,
      302,
      're-signed but unchanged is accepted (the re-signing itself is sound)',
    );
  });

  it('refuses an email domain that is not allowed', async (t) => {
    const env = await setup(t, {
      connector: { allowedEmailDomains: ['Example.ORG'] },
      accounts: { 'sub-eve': { ...bob, preferred_username: 'eve', email: 'eve@evil.test' } },
    });
    const before = await env.counts();
    await assertRefused(
      env,
      await env.callback(await env.authorize()),
      'email_domain_not_allowed',
      before,
    );
  });

  it('refuses an unverified email', async (t) => {
    const env = await setup(t, { accounts: { 'sub-bob': { ...bob, email_verified: false } } });
    const before = await env.counts();
    await assertRefused(
      env,
      await env.callback(await env.authorize()),
      'email_not_verified',
      before,
    );
  });

  it('never links to an existing account by email', async (t) => {
    const env = await setup(t, { accounts: { 'sub-bob': bob } });
    await env.server.handle
      .identity()
      .users.create({ displayName: 'Local Bob', email: 'BOB@example.org', username: 'bob' });
    const before = await env.counts();
    await assertRefused(env, await env.callback(await env.authorize()), 'email_taken', before);
  });

  it('refuses a disabled account', async (t) => {
    const env = await setup(t, { accounts: { 'sub-bob': bob } });
    const first = await env.callback(await env.authorize());
    const actor = await env.server.handle
      .identity()
      .sessions.authenticate(sessionTokenFrom(first) ?? '');
    assert.ok(actor);
    await env.server.handle.identity().users.setStatus(actor.userId, 'disabled');
    const before = await env.counts();
    await assertRefused(env, await env.callback(await env.authorize()), 'account_disabled', before);
  });

  it('answers 404 for an unknown connector', async (t) => {
    const env = await setup(t);
    const hop = await env.browser.get(`${env.origin}/v1/auth/oidc/nope/start`);
    assert.equal(hop.status, 404, hop.body);
  });
});
