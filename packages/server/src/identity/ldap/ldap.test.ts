import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Ed25519NoteSigner } from '@bulwark/ledger';
import Fastify from 'fastify';
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
import { testStorage } from '../../../../../test/support/storage.ts';
import { tempDir } from '../../../../../test/support/temp.ts';
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

async function setup(t: TestContext, over: Partial<LdapConnectorInput> = {}) {
  const slapd = await startSlapd(t);
  if (!slapd) return null;
  const ts = await testStorage(t, 'sqlite');
  assert.ok(ts);
  const identity: IdentityContext = buildIdentityContext({
    storage: ts.storage,
    root: ts.root,
    clock: { now: () => new Date() },
    relyingParty: { id: 'localhost', name: 'Bulwark', origins: ['https://localhost'] },
  });
  const service = new LdapLoginService({
    storage: ts.storage,
    users: identity.users,
    sessions: identity.sessions,
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
  return { slapd, storage: ts.storage, identity, service, ledger };
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

    const user = await s.service.login('alice', alice.password);
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
    const user = await s.service.login('bob', bob.password);
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
    assert.equal(await s.service.login('alice', 'wrong'), null);
    assert.equal((await s.identity.users.list()).length, 0, 'nothing created');
  });

  it('refuses a user outside requiredGroup (nested membership counts)', async (t) => {
    const s = await setup(t, { requiredGroup: groupDn('staff') });
    if (!s) return;
    assert.equal(await s.service.login('carol', carol.password), null);
    assert.ok(await s.service.login('alice', alice.password), 'alice is staff through admins');
    assert.ok(await s.service.login('bob', bob.password));
  });

  it('creates the user just in time, then follows the directory on later logins', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const first = await s.service.login('bob', bob.password);
    assert.ok(first);
    assert.equal(first.displayName, bob.cn);
    await s.slapd.modify(
      `dn: ${userDn('bob')}\nchangetype: modify\nreplace: cn\ncn: Robert Builder\n`,
    );
    await s.slapd.modify(
      `dn: ${groupDn('admins')}\nchangetype: modify\nadd: member\nmember: ${userDn('bob')}\n`,
    );
    const second = await s.service.login('bob', bob.password);
    assert.ok(second);
    assert.equal(second.id, first.id);
    assert.equal(second.displayName, 'Robert Builder');
    assert.equal(second.isAdmin, true);
    assert.equal((await s.identity.users.list()).length, 1);
  });

  it('sync creates, updates and disables users removed from the directory, ending their sessions', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const bobUser = await s.service.login('bob', bob.password);
    assert.ok(bobUser);
    const { token } = await s.identity.sessions.create(bobUser.id, {
      kind: 'bearer',
      methods: ['ldap'],
    });
    assert.ok(await s.identity.sessions.authenticate(token));

    assert.deepEqual(await s.service.sync(), { created: 2, updated: 0, disabled: 0, unchanged: 1 });

    await s.slapd.remove(userDn('bob'));
    assert.deepEqual(await s.service.sync(), { created: 0, updated: 0, disabled: 1, unchanged: 2 });
    assert.equal((await s.identity.users.get(bobUser.id))?.status, 'disabled');
    assert.equal(await s.identity.sessions.authenticate(token), null, 'session ended');
    assert.equal(await s.service.login('bob', bob.password), null);
    // Idempotent.
    assert.deepEqual(await s.service.sync(), { created: 0, updated: 0, disabled: 0, unchanged: 2 });
  });

  it('sync disables users who leave requiredGroup and re-enables them when they return', async (t) => {
    const s = await setup(t, { requiredGroup: groupDn('staff') });
    if (!s) return;
    const bobUser = await s.service.login('bob', bob.password);
    assert.ok(bobUser);
    const remove = `dn: ${groupDn('staff')}\nchangetype: modify\ndelete: member\nmember: ${userDn('bob')}\n`;
    await s.slapd.modify(remove);
    assert.equal((await s.service.sync()).disabled, 1);
    assert.equal(await s.service.login('bob', bob.password), null);
    await s.slapd.modify(remove.replace('delete: member', 'add: member'));
    assert.equal((await s.service.login('bob', bob.password))?.id, bobUser.id);
    assert.equal((await s.identity.users.get(bobUser.id))?.status, 'active');
  });

  it('directory down: a typed error, nothing changed', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const aliceUser = await s.service.login('alice', alice.password);
    assert.ok(aliceUser);
    await s.slapd.stop();
    await assert.rejects(s.service.login('alice', alice.password), (err) => {
      assert.ok(err instanceof LdapUnavailableError);
      assert.equal(err.reason, 'connect');
      assert.match(err.message, /cannot be reached/);
      assert.doesNotMatch(err.message, new RegExp(alice.password));
      return true;
    });
    await assert.rejects(s.service.sync(), LdapUnavailableError);
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
      intervalMs: 50,
    });
    t.after(() => schedule.stop());
    for (let i = 0; i < 100 && (await s.identity.users.list()).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    schedule.stop();
    assert.equal((await s.identity.users.list()).length, 3);
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
