/**
 * LDAP through the whole server: a connector in the config file, a real
 * slapd, login over HTTPS, and an admin's sync that disables a removed user
 * and ends their session.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OrgStore } from '../../packages/server/src/directory/orgs.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer } from '../support/server.ts';
import { BASE_DN, groupDn, SERVICE_DN, startSlapd, testUsers, userDn } from '../support/slapd.ts';
import { tempDir } from '../support/temp.ts';

describe('LDAP login over the API', () => {
  it('logs in, maps nested groups to admin, and a sync disables a removed user', async (t) => {
    const slapd = await startSlapd(t);
    if (!slapd) return;
    const server = await startTestServer(t, {
      dataDir: tempDir(t),
      config: {
        auth: {
          ldap: {
            connectors: [
              {
                id: 'corp',
                url: slapd.ldapUrl,
                startTls: true,
                caFile: slapd.caFile,
                bindDn: SERVICE_DN,
                bindPasswordFile: slapd.servicePasswordFile,
                baseDn: BASE_DN,
                groupRoles: { [groupDn('admins')]: 'admin', [groupDn('staff')]: 'member' },
                syncIntervalMinutes: 0,
              },
            ],
          },
        },
      },
    });
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'ldap api passphrase' },
    });

    const login = (username: string, password: string) =>
      server.request('/v1/auth/login/ldap', {
        method: 'POST',
        body: { username, password, session: 'bearer' },
      });
    const wrong = await login('alice', 'not-her-password');
    const unknown = await login('mallory', 'whatever');
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, unknown.json, 'the same answer for unknown users');

    const bob = await login('bob', testUsers.bob.password);
    assert.equal(bob.status, 200, bob.body);
    const bobAuth = { authorization: `Bearer ${(bob.json as { token: string }).token}` };
    assert.equal((await server.request('/v1/sessions', { headers: bobAuth })).status, 200);

    const alice = await login('alice', testUsers.alice.password);
    assert.equal(alice.status, 200, alice.body);
    const aliceToken = (alice.json as { token: string }).token;
    // admins ⊂ staff: alice is an admin through the nested group mapping.
    const identity = server.handle.identity();
    const aliceUser = await identity.users.findByUsername('alice');
    assert.equal(aliceUser?.isAdmin, true);
    assert.equal(aliceUser?.source, 'ldap');

    // A sync is sensitive: without a fresh step-up it is refused.
    const syncPath = '/v1/admin/ldap/corp/sync';
    const refused = await server.request(syncPath, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceToken}` },
      body: {},
    });
    assert.equal(refused.status, 403);
    const stepped = await identity.sessions.create(aliceUser?.id ?? '', {
      kind: 'bearer',
      methods: ['ldap', 'totp'],
      stepUp: true,
    });

    await slapd.remove(userDn('bob'));
    const synced = await server.request(syncPath, {
      method: 'POST',
      headers: { authorization: `Bearer ${stepped.token}` },
      body: {},
    });
    assert.equal(synced.status, 200, synced.body);
    assert.equal((synced.json as { disabled: number }).disabled, 1);
    assert.equal(
      (await server.request('/v1/sessions', { headers: bobAuth })).status,
      401,
      'bob is out',
    );
    assert.equal((await login('bob', testUsers.bob.password)).status, 401);

    // LDAP logins are in the ledger, attributed to the directory user.
    const ledger = await server.handle.ledger().entries(0, 1000);
    const logins = ledger
      .filter((e) => e.entry.action === 'session.create')
      .map((e) => e.entry.actor.userId);
    assert.ok(aliceUser && logins.includes(aliceUser.id));
    // So are the accounts their first logins made: each its own actor, through the API.
    const bobUser = await identity.users.findByUsername('bob');
    assert.equal(bobUser?.status, 'disabled');
    for (const user of [bobUser, aliceUser]) {
      const created = ledger.filter(
        (e) => e.entry.action === 'user.create' && e.entry.target.id === user?.id,
      );
      assert.equal(created.length, 1, `${user?.username}: one user.create`);
      assert.equal(created[0]?.entry.actor.kind, 'user');
      assert.equal(created[0]?.entry.actor.userId, user?.id);
      assert.equal(created[0]?.entry.actor.channel, 'api');
      assert.match(created[0]?.entry.actor.sourceHash ?? '', /^[0-9a-f]{64}$/);
      // The account's entry comes before the session made with it.
      const session = ledger.find(
        (e) => e.entry.action === 'session.create' && e.entry.actor.userId === user?.id,
      );
      assert.ok(session && created[0] && created[0].seq < session.seq);
    }
    // The admin's sync disabled bob: alice (that session) is the actor, through the sync.
    const disabled = ledger.filter(
      (e) => e.entry.action === 'user.status' && e.entry.target.id === bobUser?.id,
    );
    assert.equal(disabled.length, 1);
    assert.deepEqual(
      {
        kind: disabled[0]?.entry.actor.kind,
        userId: disabled[0]?.entry.actor.userId,
        sessionId: disabled[0]?.entry.actor.sessionId,
        channel: disabled[0]?.entry.actor.channel,
      },
      { kind: 'user', userId: aliceUser?.id, sessionId: stepped.session.id, channel: 'ldap-sync' },
    );
    assert.equal((await server.handle.ledger().verify()).ok, true);

    // The directory goes away: a clear 503, nothing changed.
    await slapd.stop();
    const down = await login('alice', testUsers.alice.password);
    assert.equal(down.status, 503, down.body);
    assert.equal((down.json as { error: { code: string } }).error.code, 'directory_unavailable');
  });

  it('a connector files its people in its org, and an LDAP-bound group grants what it is given', async (t) => {
    const slapd = await startSlapd(t);
    if (!slapd) return;
    const connector = (id: string, org: string) => ({
      id,
      org,
      url: slapd.ldapUrl,
      startTls: true,
      caFile: slapd.caFile,
      bindDn: SERVICE_DN,
      bindPasswordFile: slapd.servicePasswordFile,
      baseDn: BASE_DN,
      groupRoles: { [groupDn('admins')]: 'admin' },
      syncIntervalMinutes: 0,
    });
    const server = await startTestServer(t, {
      dataDir: tempDir(t),
      config: {
        auth: {
          ldap: { connectors: [connector('corp', 'corp-org'), connector('typo', 'no-such-org')] },
        },
      },
    });
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'ldap org passphrase' },
    });
    const identity = server.handle.identity();
    const corp = await new OrgStore(identity.storage).create(
      { slug: 'corp-org', name: 'Corp' },
      new Date(),
    );
    const login = (connectorId: string, username: string) =>
      server.request('/v1/auth/login/ldap', {
        method: 'POST',
        body: {
          connector: connectorId,
          username,
          password: testUsers[username as 'alice' | 'bob'].password,
          session: 'bearer',
        },
      });

    const alice = await login('corp', 'alice');
    assert.equal(alice.status, 200, alice.body);
    const aliceUser = await identity.users.findByUsername('alice');
    assert.equal(aliceUser?.orgId, corp.id, "filed in the connector's org");
    assert.equal(aliceUser?.orgRole, 'admin', 'the directory admin group makes an org admin');
    assert.equal(aliceUser?.isAdmin, false, "a tenant's directory never makes installation admins");

    // A connector naming an org that does not exist refuses, loudly, instead of filing people elsewhere.
    const typo = await login('typo', 'bob');
    assert.equal(typo.status, 503, typo.body);
    assert.match(typo.body, /no-such-org/);

    // Alice (org admin) makes a project, binds a group to the directory's staff group, gives it viewer.
    const aliceAuth = { authorization: `Bearer ${(alice.json as { token: string }).token}` };
    const project = await server.request(`/v1/orgs/${corp.id}/projects`, {
      method: 'POST',
      headers: aliceAuth,
      body: { key: 'CORP', name: 'Corp project' },
    });
    assert.equal(project.status, 201, project.body);
    const projectId = (project.json as { project: { id: string } }).project.id;
    const group = await server.request(`/v1/orgs/${corp.id}/groups`, {
      method: 'POST',
      headers: aliceAuth,
      body: { name: 'Staff (LDAP)', ldapDn: groupDn('staff') },
    });
    assert.equal(group.status, 201, group.body);
    const groupId = (group.json as { group: { id: string } }).group.id;

    const bob = await login('corp', 'bob');
    assert.equal(bob.status, 200, bob.body);
    const bobAuth = { authorization: `Bearer ${(bob.json as { token: string }).token}` };
    assert.equal(
      (await server.request(`/v1/projects/${projectId}`, { headers: bobAuth })).status,
      404,
    );
    const granted = await server.request(`/v1/projects/${projectId}/groups/${groupId}`, {
      method: 'PUT',
      headers: aliceAuth,
      body: { role: 'viewer' },
    });
    assert.equal(granted.status, 200, granted.body);
    const seen = await server.request(`/v1/projects/${projectId}`, { headers: bobAuth });
    assert.equal(seen.status, 200, 'bob is in staff in the directory, so in the bound group');
    assert.equal((seen.json as { role: string }).role, 'viewer');
  });

  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`fails closed (${backend}): a first login whose ledger entry cannot be written makes no account`, async (t) => {
      const slapd = await startSlapd(t);
      if (!slapd) return;
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      if (backend === 'postgres' && !pg) return;
      const server = await startTestServer(t, {
        dataDir: tempDir(t),
        postgres: pg,
        config: {
          auth: {
            ldap: {
              connectors: [
                {
                  id: 'corp',
                  url: slapd.ldapUrl,
                  startTls: true,
                  caFile: slapd.caFile,
                  bindDn: SERVICE_DN,
                  bindPasswordFile: slapd.servicePasswordFile,
                  baseDn: BASE_DN,
                  syncIntervalMinutes: 0,
                },
              ],
            },
          },
        },
      });
      await server.request('/v1/sys/init', {
        method: 'POST',
        body: { passphrase: 'ldap fail closed passphrase' },
      });
      const db = server.handle.storage().db;
      const last = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max('seq').as('m'))
        .executeTakeFirstOrThrow();
      // Occupy the next sequence number: the ledger's insert will collide.
      const seq = Number(last.m) + 1;
      await db
        .insertInto('audit_entries')
        .values({ seq, entry: '{}', leaf_hash: '00', created_at: 'x' })
        .execute();
      const login = () =>
        server.request('/v1/auth/login/ldap', {
          method: 'POST',
          body: { username: 'bob', password: testUsers.bob.password, session: 'bearer' },
        });
      const refused = await login();
      assert.equal(refused.status, 500, refused.body);
      const identity = server.handle.identity();
      assert.equal(
        await identity.users.findByUsername('bob'),
        null,
        'no account without its entry',
      );
      const links = await db
        .selectFrom('external_identities')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(Number(links.n), 0, 'no directory link either');

      // With the ledger working again, the same login makes the account and its entry.
      await db.deleteFrom('audit_entries').where('seq', '=', seq).execute();
      const ok = await login();
      assert.equal(ok.status, 200, ok.body);
      const bob = await identity.users.findByUsername('bob');
      assert.ok(bob);
      const entries = await server.handle.ledger().entries(0, 1000);
      assert.ok(
        entries.some((e) => e.entry.action === 'user.create' && e.entry.target.id === bob.id),
      );
      assert.equal((await server.handle.ledger().verify()).ok, true);
    });
  }

  it('a "directory" that answers garbage is unavailable, not a failed login', async (t) => {
    const garbage = createServer((socket) => {
      socket.on('data', () => socket.write(randomBytes(64)));
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    t.after(() => garbage.close());
    const address = garbage.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const dir = tempDir(t);
    writeFileSync(join(dir, 'pw'), 'x\n');
    const server = await startTestServer(t, {
      dataDir: dir,
      config: {
        auth: {
          ldap: {
            connectors: [
              {
                id: 'junk',
                url: `ldap://127.0.0.1:${port}`,
                startTls: true,
                bindDn: 'cn=svc,dc=example,dc=org',
                bindPasswordFile: join(dir, 'pw'),
                baseDn: 'dc=example,dc=org',
                timeoutMs: 2000,
                syncIntervalMinutes: 0,
              },
            ],
          },
        },
      },
    });
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'garbage test passphrase' },
    });
    const answer = await server.request('/v1/auth/login/ldap', {
      method: 'POST',
      body: { username: 'alice', password: 'whatever' },
    });
    assert.equal(answer.status, 503, answer.body);
    assert.equal((answer.json as { error: { code: string } }).error.code, 'directory_unavailable');
    assert.equal((await server.request('/health')).status, 200, 'the server keeps serving');
  });
});
