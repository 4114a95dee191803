import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Ed25519NoteSigner } from '@bulwark/ledger';
import Fastify from 'fastify';
import { sql } from 'kysely';
import {
  BASE_DN,
  GROUPS_DN,
  groupDn,
  SERVICE_DN,
  type Slapd,
  startSlapd,
  testUsers,
  userDn,
} from '../../../../../test/support/slapd.ts';
import { type Backend, testStorage } from '../../../../../test/support/storage.ts';
import { tempDir } from '../../../../../test/support/temp.ts';
import type { AuditActor, AuditEntry } from '../../audit/ledger/entry.ts';
import { AuditLedger } from '../../audit/ledger/ledger.ts';
import type { App } from '../../http/app.ts';
import { handleError } from '../../http/error-mapping.ts';
import { buildIdentityContext, type IdentityContext } from '../context.ts';
import { LoginThrottle } from '../login-throttle.ts';
import {
  escapeFilterValue,
  type LdapConnectorInput,
  ldapConfigSchema,
  ldapConnectorSchema,
  normaliseDn,
  resolveLdapConnector,
  userSearchFilter,
} from './config.ts';
import { LdapConnector, LdapUnavailableError } from './connector.ts';
import { buildLdapServices, registerLdapRoutes, startLdapSyncSchedule } from './routes.ts';
import { LdapLoginService } from './service.ts';

const { alice, bob, carol } = testUsers;

function connectorInput(slapd: Slapd, over: Partial<LdapConnectorInput> = {}): LdapConnectorInput {
  return {
    id: 'corp',
    url: slapd.ldapsUrl,
    caFile: slapd.caFile,
    bindDn: SERVICE_DN,
    bindPasswordFile: slapd.servicePasswordFile,
    baseDn: BASE_DN,
    groupRoles: { [groupDn('admins')]: 'admin', [groupDn('staff')]: 'member' },
    timeoutMs: 3000,
    ...over,
  };
}

function connector(slapd: Slapd, over: Partial<LdapConnectorInput> = {}): LdapConnector {
  return new LdapConnector(
    resolveLdapConnector(ldapConnectorSchema.parse(connectorInput(slapd, over))),
  );
}

/** The address the unit tests' logins come from. */
const SOURCE = '192.0.2.7';

async function setup(
  t: TestContext,
  over: Partial<LdapConnectorInput> = {},
  backend: Backend = 'sqlite',
) {
  const slapd = await startSlapd(t);
  if (!slapd) return null;
  const ts = await testStorage(t, backend);
  if (!ts) return null;
  const identity: IdentityContext = buildIdentityContext({
    storage: ts.storage,
    root: ts.root,
    clock: { now: () => new Date() },
    relyingParty: { id: 'localhost', name: 'Bulwark', origins: ['https://localhost'] },
  });
  const service = new LdapLoginService({
    storage: ts.storage,
    connector: connector(slapd, over),
    clock: identity.clock,
  });
  const seed = ts.root.derive('ledgerSigning');
  const ledger = new AuditLedger({
    storage: ts.storage,
    signer: new Ed25519NoteSigner(`bulwark/${ts.root.installationId}`, seed.bytes()),
    clock: identity.clock,
    hashSource: (source) => identity.hasher.hash('audit-source', source),
  });
  const db = ts.storage.db;
  return {
    slapd,
    storage: ts.storage,
    identity,
    service,
    ledger,
    login: (username: string, password: string) =>
      service.login(username, password, { ledger, source: SOURCE }),
    sync: (actor?: AuditActor) => service.sync({ ledger, ...(actor ? { actor } : {}) }),
    /** The ledger's entries, oldest first. */
    entries: async () => (await ledger.entries(0, 10_000)).map((e) => e.entry),
    /** Makes every ledger write fail (the next sequence number is taken); returns the undo. */
    breakLedger: async () => {
      const last = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max('seq').as('m'))
        .executeTakeFirst();
      const seq = last?.m === null || last?.m === undefined ? 0 : Number(last.m) + 1;
      await db
        .insertInto('audit_entries')
        .values({ seq, entry: '{}', leaf_hash: '00', created_at: 'x' })
        .execute();
      return async () => {
        await db.deleteFrom('audit_entries').where('seq', '=', seq).execute();
      };
    },
    count: async (table: 'users' | 'external_identities' | 'audit_entries') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string | number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
  };
}

describe('ldap config', () => {
  const base = {
    id: 'corp',
    bindDn: 'cn=svc,dc=example,dc=org',
    bindPasswordFile: '/dev/null',
    baseDn: 'dc=example,dc=org',
  };

  it('refuses plaintext ldap:// without StartTLS, accepts it with StartTLS and ldaps://', () => {
    const plain = ldapConnectorSchema.safeParse({ ...base, url: 'ldap://dir.example.org' });
    assert.equal(plain.success, false);
    assert.match(JSON.stringify(plain.error?.issues), /StartTLS|clear/);
    assert.equal(
      ldapConnectorSchema.safeParse({ ...base, url: 'ldap://dir.example.org', startTls: true })
        .success,
      true,
    );
    assert.equal(
      ldapConnectorSchema.safeParse({ ...base, url: 'ldaps://dir.example.org:636' }).success,
      true,
    );
    assert.equal(
      ldapConnectorSchema.safeParse({ ...base, url: 'ldaps://dir.example.org', startTls: true })
        .success,
      false,
    );
    assert.equal(ldapConnectorSchema.safeParse({ ...base, url: 'http://x' }).success, false);
    assert.equal(
      ldapConnectorSchema.safeParse({ ...base, url: 'ldaps://x', userFilter: '(uid=x)' }).success,
      false,
    );
  });

  it('fills defaults per kind and rejects duplicate ids', (t) => {
    const dir = tempDir(t);
    const pw = join(dir, 'pw');
    writeFileSync(pw, 's3cret\n');
    const ad = resolveLdapConnector(
      ldapConnectorSchema.parse({
        ...base,
        bindPasswordFile: pw,
        url: 'ldaps://dc.corp',
        kind: 'active-directory',
      }),
    );
    assert.equal(ad.userFilter, '(&(objectClass=user)(sAMAccountName={username}))');
    assert.equal(ad.attributes.username, 'sAMAccountName');
    assert.equal(ad.attributes.groups, 'memberOf');
    assert.equal(ad.bindPassword, 's3cret');
    assert.equal(ad.syncIntervalMinutes, 60);
    const ol = resolveLdapConnector(
      ldapConnectorSchema.parse({ ...base, bindPasswordFile: pw, url: 'ldaps://x' }),
    );
    assert.equal(ol.userFilter, '(&(objectClass=person)(uid={username}))');
    const dup = ldapConfigSchema.safeParse({
      connectors: [
        { ...base, url: 'ldaps://a' },
        { ...base, url: 'ldaps://b' },
      ],
    });
    assert.equal(dup.success, false);
  });

  it('escapes usernames per RFC 4515', () => {
    assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
    assert.equal(escapeFilterValue('a\\b\0'), 'a\\5cb\\00');
    assert.equal(
      userSearchFilter('(&(objectClass=person)(uid={username}))', 'x)(|(uid=*'),
      '(&(objectClass=person)(uid=x\\29\\28|\\28uid=\\2a))',
    );
    assert.equal(
      normaliseDn('CN=Admins, OU=Groups ,DC=Example,DC=org'),
      'cn=admins,ou=groups,dc=example,dc=org',
    );
  });
});

describe('ldap against a real slapd', () => {
  it('logs in over ldaps:// with nested groups mapped to admin', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const id = await s.service.connector.authenticate('alice', alice.password);
    assert.ok(id);
    assert.equal(id.username, 'alice');
    assert.equal(id.displayName, alice.cn);
    assert.equal(id.email, alice.mail);
    assert.match(id.externalId, /^[0-9a-f-]{36}$/);
    // alice ∈ admins ⊂ staff: both, the second only through nesting.
    assert.deepEqual(id.groups, [groupDn('admins'), groupDn('staff')]);

    const user = await s.login('alice', alice.password);
    assert.ok(user);
    assert.equal(user.source, 'ldap');
    assert.equal(user.isAdmin, true);
    assert.equal(user.status, 'active');
    assert.equal(user.username, 'alice');
  });

  it('logs in over StartTLS; a plain member is not admin', async (t) => {
    const slapd = await startSlapd(t);
    if (!slapd) return;
    const c = connector(slapd, { url: slapd.ldapUrl, startTls: true });
    const id = await c.authenticate('bob', bob.password);
    assert.ok(id);
    assert.deepEqual(id.groups, [groupDn('staff')]);
    const s = await setup(t, {});
    if (!s) return;
    const user = await s.login('bob', bob.password);
    assert.equal(user?.isAdmin, false);
  });

  it('refuses wrong passwords, unknown users, empty passwords and filter injection alike', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const c = s.service.connector;
    assert.equal(await c.authenticate('alice', 'wrong'), null);
    assert.equal(await c.authenticate('nobody', alice.password), null);
    assert.equal(await c.authenticate('alice', ''), null);
    // Injection: each would match alice (or everyone) if the value were not escaped.
    for (const name of ['*)(uid=*', '*', 'ali*', 'alice)(uid=*', '*)(|(objectClass=*']) {
      assert.equal(await c.authenticate(name, alice.password), null, name);
    }
    assert.equal(await s.login('alice', 'wrong'), null);
    assert.equal((await s.identity.users.list()).length, 0, 'nothing created');
  });

  it('refuses a user outside requiredGroup (nested membership counts)', async (t) => {
    const s = await setup(t, { requiredGroup: groupDn('staff') });
    if (!s) return;
    assert.equal(await s.login('carol', carol.password), null);
    assert.ok(await s.login('alice', alice.password), 'alice is staff through admins');
    assert.ok(await s.login('bob', bob.password));
  });

  it('creates the user just in time, then follows the directory on later logins', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const first = await s.login('bob', bob.password);
    assert.ok(first);
    assert.equal(first.displayName, bob.cn);
    await s.slapd.modify(
      `dn: ${userDn('bob')}\nchangetype: modify\nreplace: cn\ncn: Robert Builder\n`,
    );
    await s.slapd.modify(
      `dn: ${groupDn('admins')}\nchangetype: modify\nadd: member\nmember: ${userDn('bob')}\n`,
    );
    const second = await s.login('bob', bob.password);
    assert.ok(second);
    assert.equal(second.id, first.id);
    assert.equal(second.displayName, 'Robert Builder');
    assert.equal(second.isAdmin, true);
    assert.equal((await s.identity.users.list()).length, 1);
  });

  it('sync creates, updates and disables users removed from the directory, ending their sessions', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const bobUser = await s.login('bob', bob.password);
    assert.ok(bobUser);
    const { token } = await s.identity.sessions.create(bobUser.id, {
      kind: 'bearer',
      methods: ['ldap'],
    });
    assert.ok(await s.identity.sessions.authenticate(token));

    assert.deepEqual(await s.sync(), { created: 2, updated: 0, disabled: 0, unchanged: 1 });

    await s.slapd.remove(userDn('bob'));
    assert.deepEqual(await s.sync(), { created: 0, updated: 0, disabled: 1, unchanged: 2 });
    assert.equal((await s.identity.users.get(bobUser.id))?.status, 'disabled');
    assert.equal(await s.identity.sessions.authenticate(token), null, 'session ended');
    assert.equal(await s.login('bob', bob.password), null);
    // Idempotent.
    assert.deepEqual(await s.sync(), { created: 0, updated: 0, disabled: 0, unchanged: 2 });
  });

  it('sync disables users who leave requiredGroup and re-enables them when they return', async (t) => {
    const s = await setup(t, { requiredGroup: groupDn('staff') });
    if (!s) return;
    const bobUser = await s.login('bob', bob.password);
    assert.ok(bobUser);
    const remove = `dn: ${groupDn('staff')}\nchangetype: modify\ndelete: member\nmember: ${userDn('bob')}\n`;
    await s.slapd.modify(remove);
    assert.equal((await s.sync()).disabled, 1);
    assert.equal(await s.login('bob', bob.password), null);
    await s.slapd.modify(remove.replace('delete: member', 'add: member'));
    assert.equal((await s.login('bob', bob.password))?.id, bobUser.id);
    assert.equal((await s.identity.users.get(bobUser.id))?.status, 'active');
  });

  it('directory down: a typed error, nothing changed', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const aliceUser = await s.login('alice', alice.password);
    assert.ok(aliceUser);
    await s.slapd.stop();
    await assert.rejects(s.login('alice', alice.password), (err) => {
      assert.ok(err instanceof LdapUnavailableError);
      assert.equal(err.reason, 'connect');
      assert.match(err.message, /cannot be reached/);
      assert.doesNotMatch(err.message, new RegExp(alice.password));
      return true;
    });
    await assert.rejects(s.sync(), LdapUnavailableError);
    assert.equal((await s.identity.users.get(aliceUser.id))?.status, 'active');
  });

  it('an untrusted certificate is a TLS error (ldaps:// and StartTLS), not a failed login', async (t) => {
    const slapd = await startSlapd(t);
    if (!slapd) return;
    for (const over of [
      { caFile: undefined },
      { caFile: undefined, url: slapd.ldapUrl, startTls: true },
    ] as Partial<LdapConnectorInput>[]) {
      const input = connectorInput(slapd, over);
      delete input.caFile;
      const c = new LdapConnector(resolveLdapConnector(ldapConnectorSchema.parse(input)));
      await assert.rejects(c.authenticate('alice', alice.password), (err) => {
        assert.ok(err instanceof LdapUnavailableError, String(err));
        assert.equal(err.reason, 'tls');
        assert.match(err.message, /TLS/);
        return true;
      });
    }
  });

  it('a wrong service password is a configuration error, not a failed login', async (t) => {
    const slapd = await startSlapd(t);
    if (!slapd) return;
    const pw = join(slapd.dir, 'wrong-pw');
    writeFileSync(pw, 'wrong\n');
    const c = connector(slapd, { bindPasswordFile: pw });
    await assert.rejects(c.authenticate('alice', alice.password), (err) => {
      assert.ok(err instanceof LdapUnavailableError);
      assert.equal(err.reason, 'service-bind');
      return true;
    });
  });

  it('more than one match is refused', async (t) => {
    const slapd = await startSlapd(t);
    if (!slapd) return;
    await slapd.add(
      `dn: uid=alice,${GROUPS_DN}\nobjectClass: inetOrgPerson\nuid: alice\ncn: Other Alice\nsn: A\nuserPassword: ${alice.password}\n`,
    );
    const c = connector(slapd);
    await assert.rejects(c.authenticate('alice', alice.password), (err) => {
      assert.ok(err instanceof LdapUnavailableError);
      assert.equal(err.reason, 'ambiguous');
      return true;
    });
  });

  it('the scheduled sync runs on its own and stops', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const services = new Map([[s.service.id, s.service]]);
    const schedule = startLdapSyncSchedule({
      connectors: [{ id: 'corp', syncIntervalMinutes: 60 }],
      services: () => services,
      audit: () => s.ledger,
      intervalMs: 50,
    });
    t.after(() => schedule.stop());
    for (let i = 0; i < 100 && (await s.identity.users.list()).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    schedule.stop();
    assert.equal((await s.identity.users.list()).length, 3);
    // Recorded as the system's, through the sync channel.
    const created = (await s.entries()).filter((e) => e.action === 'user.create');
    assert.equal(created.length, 3);
    for (const e of created) {
      assert.deepEqual(e.actor, {
        kind: 'system',
        userId: null,
        sessionId: null,
        sourceHash: null,
        channel: 'ldap-sync',
      });
    }
  });

  it('the scheduled sync without a ledger refuses to run (fails closed) and says so', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const services = new Map([[s.service.id, s.service]]);
    const errors: string[] = [];
    const logger = {
      info: () => {},
      warn: () => {},
      error: (_obj: unknown, msg?: string) => void errors.push(msg ?? ''),
    } as unknown as NonNullable<Parameters<typeof startLdapSyncSchedule>[0]['logger']>;
    const schedule = startLdapSyncSchedule({
      connectors: [{ id: 'corp', syncIntervalMinutes: 60 }],
      services: () => services,
      logger,
      intervalMs: 20,
    });
    t.after(() => schedule.stop());
    for (let i = 0; i < 100 && errors.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    schedule.stop();
    assert.ok(errors.length >= 2, 'refused on every tick');
    assert.match(errors[0] ?? '', /no audit ledger/);
    assert.equal(await s.count('users'), 0, 'nothing changed');
    assert.equal(await s.count('audit_entries'), 0);
  });
});

describe('ldap routes', () => {
  async function app(t: TestContext) {
    const s = await setup(t);
    if (!s) return null;
    const services = buildLdapServices({
      storage: s.storage,
      identity: s.identity,
      connectors: [s.service.connector.config],
    });
    const server = Fastify();
    server.setErrorHandler(handleError);
    registerLdapRoutes(server as unknown as App, {
      identity: () => s.identity,
      ldap: () => services,
      throttle: new LoginThrottle(),
      sessionMaxAgeSeconds: 3600,
      audit: () => s.ledger,
    });
    t.after(() => server.close());
    const login = (body: unknown) =>
      server.inject({ method: 'POST', url: '/v1/auth/login/ldap', payload: body as object });
    return { ...s, server, login };
  }

  it('answers login_failed alike for unknown users and wrong passwords; makes a session', async (t) => {
    const a = await app(t);
    if (!a) return;
    const wrong = await a.login({ username: 'alice', password: 'nope' });
    const unknown = await a.login({ username: 'nobody', password: 'nope' });
    assert.equal(wrong.statusCode, 401);
    assert.equal(unknown.statusCode, 401);
    assert.deepEqual(wrong.json(), unknown.json());
    assert.equal(wrong.json().error.code, 'login_failed');

    const ok = await a.login({ username: 'alice', password: alice.password, session: 'bearer' });
    assert.equal(ok.statusCode, 200, ok.body);
    const body = ok.json();
    assert.deepEqual(body.session.methods, ['ldap']);
    const actor = await a.identity.sessions.authenticate(body.token);
    assert.equal(actor?.isAdmin, true);

    const cookie = await a.login({ connector: 'corp', username: 'bob', password: bob.password });
    assert.equal(cookie.statusCode, 200);
    assert.match(String(cookie.headers['set-cookie']), /^__Host-bulwark_session=bws_/);

    const other = await a.login({ connector: 'nope', username: 'bob', password: bob.password });
    assert.equal(other.statusCode, 404);
  });

  it('directory down: 503 with a clear message', async (t) => {
    const a = await app(t);
    if (!a) return;
    await a.slapd.stop();
    const res = await a.login({ username: 'alice', password: alice.password });
    assert.equal(res.statusCode, 503);
    assert.match(res.json().error.message, /directory \(LDAP\) cannot be reached/);
  });
});

/** Every user's entries chain: each one's before is the previous one's after. */
function assertChained(entries: AuditEntry[]): void {
  const last = new Map<string, string | null>();
  for (const e of entries) {
    const id = e.target.id ?? '';
    if (last.has(id)) assert.equal(e.beforeSha256, last.get(id), `${e.action} (seq ${e.seq})`);
    else assert.equal(e.beforeSha256, null, `${e.action} (seq ${e.seq}) starts the chain`);
    assert.notEqual(e.afterSha256, e.beforeSha256, `${e.action} (seq ${e.seq}) changed something`);
    last.set(id, e.afterSha256);
  }
}

const removeFromStaff = (who: string) =>
  `dn: ${groupDn('staff')}\nchangetype: modify\ndelete: member\nmember: ${userDn(who)}\n`;
const addToStaff = (who: string) =>
  `dn: ${groupDn('staff')}\nchangetype: modify\nadd: member\nmember: ${userDn(who)}\n`;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`ldap changes in the audit ledger (${backend})`, () => {
    it('a first login records user.create with the new user as actor; later changes user.update; no change, no entry', async (t) => {
      const s = await setup(t, {}, backend);
      if (!s) return;
      const first = await s.login('bob', bob.password);
      assert.ok(first);
      let entries = await s.entries();
      assert.deepEqual(
        entries.map((e) => e.action),
        ['user.create'],
      );
      const created = entries[0];
      assert.ok(created);
      assert.deepEqual(created.target, { type: 'user', id: first.id });
      assert.equal(created.actor.kind, 'user');
      assert.equal(created.actor.userId, first.id);
      assert.equal(created.actor.channel, 'api');
      assert.match(created.actor.sourceHash ?? '', /^[0-9a-f]{64}$/, 'the address, hashed');
      assert.equal(created.beforeSha256, null);
      assert.match(created.afterSha256 ?? '', /^[0-9a-f]{64}$/);
      assert.doesNotMatch(JSON.stringify(created), /Bob|bob@/, 'no personal data in the entry');

      assert.ok(await s.login('bob', bob.password));
      assert.equal((await s.entries()).length, 1, 'an unchanged login records nothing');

      await s.slapd.modify(
        `dn: ${userDn('bob')}\nchangetype: modify\nreplace: cn\ncn: Robert Builder\n`,
      );
      await s.slapd.modify(
        `dn: ${groupDn('admins')}\nchangetype: modify\nadd: member\nmember: ${userDn('bob')}\n`,
      );
      const second = await s.login('bob', bob.password);
      assert.equal(second?.isAdmin, true);
      entries = await s.entries();
      assert.deepEqual(
        entries.map((e) => e.action),
        ['user.create', 'user.update'],
      );
      const updated = entries[1];
      assert.deepEqual(updated?.target, { type: 'user', id: first.id });
      assert.equal(updated?.actor.userId, first.id);
      assert.equal(updated?.actor.channel, 'api');
      assertChained(entries);

      // A new directory group alone changes access (LDAP-bound groups): recorded too.
      await s.slapd.add(
        `dn: ${groupDn('projects')}\nobjectClass: groupOfNames\ncn: projects\nmember: ${userDn('bob')}\n`,
      );
      const third = await s.login('bob', bob.password);
      assert.equal(third?.displayName, 'Robert Builder');
      entries = await s.entries();
      assert.deepEqual(
        entries.map((e) => e.action),
        ['user.create', 'user.update', 'user.update'],
      );
      assertChained(entries);
      assert.equal((await s.ledger.verify()).ok, true);
    });

    it('sync records creations, disabling and re-enabling: the system or the admin who asked, channel ldap-sync', async (t) => {
      const s = await setup(t, { requiredGroup: groupDn('staff') }, backend);
      if (!s) return;
      const bobUser = await s.login('bob', bob.password);
      assert.ok(bobUser);
      const { token } = await s.identity.sessions.create(bobUser.id, {
        kind: 'bearer',
        methods: ['ldap'],
      });
      const system = {
        kind: 'system',
        userId: null,
        sessionId: null,
        sourceHash: null,
        channel: 'ldap-sync',
      };

      assert.equal((await s.sync()).created, 1, 'alice (carol is not staff)');
      const aliceUser = await s.identity.users.findByUsername('alice');
      assert.ok(aliceUser);
      let entries = await s.entries();
      const aliceCreated = entries.find(
        (e) => e.action === 'user.create' && e.target.id === aliceUser.id,
      );
      assert.deepEqual(aliceCreated?.actor, system);

      // Leaves requiredGroup: disabled by the scheduled sync (the system).
      await s.slapd.modify(removeFromStaff('bob'));
      assert.equal((await s.sync()).disabled, 1);
      assert.equal(await s.identity.sessions.authenticate(token), null, 'sessions ended');
      entries = await s.entries();
      const disabled = entries.at(-1);
      assert.equal(disabled?.action, 'user.status');
      assert.deepEqual(disabled?.target, { type: 'user', id: bobUser.id });
      assert.deepEqual(disabled?.actor, system);

      // Comes back: the sync re-enables (the system).
      await s.slapd.modify(addToStaff('bob'));
      const back = await s.sync();
      assert.equal(back.updated, 1);
      assert.equal((await s.identity.users.get(bobUser.id))?.status, 'active');
      entries = await s.entries();
      assert.equal(entries.at(-1)?.action, 'user.status');
      assert.deepEqual(entries.at(-1)?.actor, system);

      // Leaves again; an admin's sync disables: the admin is the actor.
      await s.slapd.modify(removeFromStaff('bob'));
      const admin: AuditActor = {
        kind: 'user',
        userId: aliceUser.id,
        sessionId: 'admin-session',
        source: '198.51.100.9',
        channel: 'ldap-sync',
      };
      assert.equal((await s.sync(admin)).disabled, 1);
      entries = await s.entries();
      assert.equal(entries.at(-1)?.action, 'user.status');
      assert.equal(entries.at(-1)?.actor.kind, 'user');
      assert.equal(entries.at(-1)?.actor.userId, aliceUser.id);
      assert.equal(entries.at(-1)?.actor.sessionId, 'admin-session');
      assert.equal(entries.at(-1)?.actor.channel, 'ldap-sync');
      // A sync that changes nothing records nothing.
      const size = entries.length;
      assert.deepEqual(await s.sync(), { created: 0, updated: 0, disabled: 0, unchanged: 1 });
      assert.equal((await s.entries()).length, size);

      // Comes back and logs in first: the login re-enables, bob is the actor.
      await s.slapd.modify(addToStaff('bob'));
      assert.equal((await s.login('bob', bob.password))?.id, bobUser.id);
      entries = await s.entries();
      assert.equal(entries.at(-1)?.action, 'user.status');
      assert.equal(entries.at(-1)?.actor.userId, bobUser.id);
      assert.equal(entries.at(-1)?.actor.channel, 'api');

      const bobs = entries.filter((e) => e.target.id === bobUser.id);
      assert.deepEqual(
        bobs.map((e) => e.action),
        ['user.create', 'user.status', 'user.status', 'user.status', 'user.status'],
      );
      assertChained(entries);
      assert.equal((await s.ledger.verify()).ok, true);
    });

    it('fails closed: when the entry cannot be written, no user, no update, no disabling', async (t) => {
      const s = await setup(t, {}, backend);
      if (!s) return;
      let undo = await s.breakLedger();
      await assert.rejects(s.login('bob', bob.password));
      assert.equal(await s.count('users'), 0, 'no account without its entry');
      assert.equal(await s.count('external_identities'), 0, 'no link either');
      await assert.rejects(s.sync());
      assert.equal(await s.count('users'), 0, 'the sync created nobody');
      await undo();

      const bobUser = await s.login('bob', bob.password);
      assert.ok(bobUser);
      const { token } = await s.identity.sessions.create(bobUser.id, {
        kind: 'bearer',
        methods: ['ldap'],
      });
      await s.slapd.modify(
        `dn: ${userDn('bob')}\nchangetype: modify\nreplace: cn\ncn: Robert Builder\n`,
      );
      undo = await s.breakLedger();
      await assert.rejects(s.login('bob', bob.password));
      assert.equal((await s.identity.users.get(bobUser.id))?.displayName, bob.cn, 'not updated');
      await undo();

      await s.slapd.remove(userDn('bob'));
      undo = await s.breakLedger();
      await assert.rejects(s.sync());
      assert.equal((await s.identity.users.get(bobUser.id))?.status, 'active', 'not disabled');
      assert.ok(await s.identity.sessions.authenticate(token), 'the session lives on');
      await undo();
      assert.equal((await s.sync()).disabled, 1, 'once the ledger works again');
      assert.equal((await s.identity.users.get(bobUser.id))?.status, 'disabled');
      assert.equal((await s.ledger.verify()).ok, true);
    });

    it('concurrent first logins of one person make one account and one entry', async (t) => {
      const s = await setup(t, {}, backend);
      if (!s) return;
      // PostgreSQL: hold the users table so that both logins find no link and
      // then stop; released together, their inserts collide, and the loser
      // rolls back to its savepoint and takes the winner's account.
      const blocker =
        backend === 'postgres' ? await s.storage.db.startTransaction().execute() : null;
      if (blocker) await sql`lock table users in access exclusive mode`.execute(blocker);
      const logins = [s.login('bob', bob.password), s.login('bob', bob.password)];
      if (blocker) {
        let waiting = 0;
        for (let i = 0; i < 400 && waiting < 2; i++) {
          await new Promise((r) => setTimeout(r, 25));
          const r = await sql<{ n: number }>`
            select count(*)::int as n from pg_locks
            where not granted and relation = 'users'::regclass`.execute(s.storage.db);
          waiting = Number(r.rows[0]?.n ?? 0);
        }
        assert.equal(waiting, 2, 'both logins wait, having found no link');
        await blocker.commit().execute();
      }
      const [a, b] = await Promise.all(logins);
      assert.ok(a && b);
      assert.equal(a.id, b.id, 'the same account');
      assert.equal(await s.count('users'), 1);
      assert.equal(await s.count('external_identities'), 1);
      const entries = await s.entries();
      assert.deepEqual(
        entries.map((e) => e.action),
        ['user.create'],
      );
      assert.equal(entries[0]?.target.id, a.id);
      assert.equal((await s.ledger.verify()).ok, true);
    });
  });
}
