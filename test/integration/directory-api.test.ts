/**
 * The directory and policy API on both back ends: the worked example of
 * docs/directory-and-policy.md (Acme invites Globex into Apollo; externals
 * need hardware keys and may not export), partner links, invitations,
 * groups, search scoping, policy enforcement on live sessions, and the
 * bad input the issue names — each refused with its reason, nothing changed.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import {
  Ed25519NoteVerifier,
  fromHex,
  leafHash,
  type ObjectVersion,
  toHex,
  verifyCheckpoint,
  verifyInclusion,
  verifyVersionChain,
} from '@bulwark/ledger';
import { buildWorld, givePasskey, type Persona, type World } from '../support/directory-world.ts';
import type { Answer } from '../support/https.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

type Json = Record<string, unknown>;
const SECURITY_KEY = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'; // a hardware key model
const PLATFORM = 'adce0002-35bc-c60a-648b-0b25f1f05503'; // a laptop's platform authenticator

const json = (a: Answer) => JSON.parse(a.body) as Json;
const codeOf = (a: Answer) => (json(a).error as { code?: string } | undefined)?.code;
const messageOf = (a: Answer) => (json(a).error as { message?: string } | undefined)?.message ?? '';

async function setup(t: TestContext, backend: 'sqlite' | 'postgres') {
  const pg = backend === 'postgres' ? await postgresSchema(t) : null;
  const server = await startTestServer(t, { dataDir: tempDir(t), postgres: pg });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'directory api passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  const world = await buildWorld(server);
  // Admins hold a platform passkey, so policies that need one do not lock them out.
  for (const who of ['orgOwner', 'orgAdmin', 'partnerAdmin'] as const) {
    await givePasskey(server, world.people[who].id, PLATFORM);
  }
  return { server, world };
}

/** A fresh session for a person, signed in with a passkey of the given model. */
async function sessionWith(
  server: TestServer,
  userId: string,
  opts: { aaguid?: string | null; methods?: ('passkey' | 'password' | 'totp')[] } = {},
) {
  const { token } = await server.handle.identity().sessions.create(userId, {
    kind: 'bearer',
    methods: opts.methods ?? ['passkey'],
    stepUp: true,
    passkeyAaguid: opts.aaguid ?? null,
  });
  return (path: string, o: { method?: string; body?: unknown } = {}) =>
    server.request(path, { ...o, headers: { authorization: `Bearer ${token}` } });
}

async function ledgerActions(server: TestServer): Promise<string[]> {
  const rows = await server.handle
    .storage()
    .db.selectFrom('audit_entries')
    .select('entry')
    .orderBy('seq')
    .execute();
  return rows.map((r) => (JSON.parse(r.entry) as { action: string }).action);
}

async function person(
  server: TestServer,
  world: World,
  name: string,
  orgId: string,
  role: 'member' | 'admin' = 'member',
) {
  const identity = server.handle.identity();
  const username = `${name}-${randomBytes(3).toString('hex')}`;
  const user = await identity.users.create({
    displayName: name,
    username,
    email: `${username}@example.test`,
    orgId,
    orgRole: role,
  });
  const call = await sessionWith(server, user.id);
  void world;
  return { id: user.id, username, email: `${username}@example.test`, call };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`directory and policy (${backend})`, () => {
    it('worked example: Apollo requires hardware keys of externals and forbids their export', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      const policyUrl = `/v1/projects/${world.apollo}/policy`;

      // A project may only tighten: asking externals to allow SMS (the org does not) is refused.
      const looser = await call('orgOwner', policyUrl, {
        method: 'PUT',
        body: { external: { authMethods: ['passkey', 'sms'] } },
      });
      assert.equal(looser.status, 400, looser.body);
      assert.match(
        messageOf(looser),
        /external\.authMethods: "sms" is not allowed by the org policy/,
      );
      const unchanged = json(await call('orgOwner', policyUrl));
      assert.equal(unchanged.project, null, 'nothing changed');

      // Sensitive: without a fresh step-up it is refused.
      const stale = await server.handle.identity().sessions.create(world.people.orgOwner.id, {
        kind: 'bearer',
        methods: ['passkey'],
      });
      const noStepUp = await server.request(policyUrl, {
        method: 'PUT',
        body: {},
        headers: { authorization: `Bearer ${stale.token}` },
      });
      assert.equal(codeOf(noStepUp), 'step_up_required');

      const tightened = await call('orgOwner', policyUrl, {
        method: 'PUT',
        body: {
          external: {
            phishingResistantMfa: true,
            allowedAaguids: [SECURITY_KEY],
            exportAllowed: false,
          },
        },
      });
      assert.equal(tightened.status, 200, tightened.body);
      const effective = json(tightened).effective as { external: Json; internal: Json };
      assert.deepEqual(effective.external.allowedAaguids, [SECURITY_KEY]);
      assert.equal(effective.external.exportAllowed, false);
      assert.equal(effective.internal.allowedAaguids, null, 'internal members unaffected');

      // Takes effect at the next request of every session it touches, with a reason to show.
      const refused = await call('externalMember', `/v1/projects/${world.apollo}`);
      assert.equal(refused.status, 403, refused.body);
      assert.equal(codeOf(refused), 'policy_unsatisfied');
      assert.match(messageOf(refused), /This project/);
      assert.match(messageOf(refused), /security key|authenticator/i);
      // Same person, signed in with a platform passkey: still refused; with the hardware key: in.
      const laptop = await sessionWith(server, world.people.externalMember.id, {
        aaguid: PLATFORM,
      });
      assert.equal(codeOf(await laptop(`/v1/projects/${world.apollo}`)), 'policy_unsatisfied');
      const key = await sessionWith(server, world.people.externalMember.id, {
        aaguid: SECURITY_KEY,
      });
      assert.equal((await key(`/v1/projects/${world.apollo}`)).status, 200);
      // Internal members are not touched; the external's other projects and account still work.
      assert.equal((await call('internalMember', `/v1/projects/${world.apollo}`)).status, 200);
      assert.equal((await call('externalMember', '/v1/me')).status, 200);

      assert.ok((await ledgerActions(server)).includes('project.policy.update'), 'audited');

      // Acme's admins read Acme's entries (here: Apollo's), nobody else's; Globex's admin may not.
      type Entries = {
        entries: { seq: number; entry: { action: string; org: string; project: string } }[];
      };
      const view = json(
        await call(
          'orgAdmin',
          `/v1/orgs/${world.acme}/audit/entries?project=${world.apollo}&limit=1000`,
        ),
      ) as Entries;
      assert.ok(view.entries.some((e) => e.entry.action === 'project.policy.update'));
      assert.ok(
        view.entries.every((e) => e.entry.org === world.acme && e.entry.project === world.apollo),
      );
      assert.equal(
        (await call('partnerAdmin', `/v1/orgs/${world.acme}/audit/entries`)).status,
        403,
      );
      assert.equal((await call('unrelated', `/v1/orgs/${world.acme}/audit/entries`)).status, 404);

      // The org index is checked by verify: moving an entry out of Acme's view is tampering.
      const seq = view.entries.find((e) => e.entry.action === 'project.policy.update')?.seq ?? -1;
      await server.handle
        .storage()
        .db.updateTable('audit_entries')
        .set({ org_id: world.initech })
        .where('seq', '=', seq)
        .execute();
      const verdict = await server.handle.ledger().verify();
      assert.equal(verdict.ok, false);
      assert.equal(verdict.ok ? null : verdict.firstBadSeq, seq);
    });

    it('partner links: invite, accept, partner admins choose their people, ending removes them at once', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      const initechSlug = json(await call('unrelated', `/v1/orgs/${world.initech}`)) as {
        org: { slug: string };
      };
      const initechAdmin = await person(server, world, 'initech-admin', world.initech, 'admin');
      await givePasskey(server, initechAdmin.id, PLATFORM);
      const linksUrl = `/v1/projects/${world.apollo}/partner-links`;

      // Bad input first: oneself, an unknown org, a second live link to the same partner.
      const acmeSlug = (
        json(await call('orgOwner', `/v1/orgs/${world.acme}`)).org as { slug: string }
      ).slug;
      const self = await call('orgOwner', linksUrl, {
        method: 'POST',
        body: { partnerOrg: acmeSlug },
      });
      assert.equal(self.status, 400);
      assert.match(messageOf(self), /own org/);
      const unknown = await call('orgOwner', linksUrl, {
        method: 'POST',
        body: { partnerOrg: 'no-such-org' },
      });
      assert.equal(unknown.status, 404);
      const globexSlug = (
        json(await call('partnerAdmin', `/v1/orgs/${world.globex}`)).org as { slug: string }
      ).slug;
      const again = await call('orgOwner', linksUrl, {
        method: 'POST',
        body: { partnerOrg: globexSlug },
      });
      assert.equal(codeOf(again), 'conflict');

      const created = await call('orgOwner', linksUrl, {
        method: 'POST',
        body: { partnerOrg: initechSlug.org.slug, maxRole: 'viewer' },
      });
      assert.equal(created.status, 201, created.body);
      const link = json(created).link as { id: string; status: string };
      assert.equal(link.status, 'pending');

      // Initech's admin sees the project, but may not add people before accepting.
      const colleague = await person(server, world, 'initech-colleague', world.initech);
      const early = await initechAdmin.call(
        `/v1/projects/${world.apollo}/members/${colleague.id}`,
        {
          method: 'PUT',
          body: { role: 'viewer' },
        },
      );
      assert.equal(codeOf(early), 'conflict', early.body);
      const accepted = await initechAdmin.call(`/v1/partner-links/${link.id}/accept`, {
        method: 'POST',
        body: {},
      });
      assert.equal(accepted.status, 200, accepted.body);
      const reaccept = await initechAdmin.call(`/v1/partner-links/${link.id}/accept`, {
        method: 'POST',
        body: {},
      });
      assert.equal(codeOf(reaccept), 'conflict');

      // Up to the link's role, only their own people.
      const tooHigh = await initechAdmin.call(
        `/v1/projects/${world.apollo}/members/${colleague.id}`,
        {
          method: 'PUT',
          body: { role: 'member' },
        },
      );
      assert.equal(tooHigh.status, 403, tooHigh.body);
      const acmePerson = await initechAdmin.call(
        `/v1/projects/${world.apollo}/members/${world.people.orgAdmin.id}`,
        { method: 'PUT', body: { role: 'viewer' } },
      );
      assert.equal(acmePerson.status, 404, 'not theirs to know');
      const added = await initechAdmin.call(
        `/v1/projects/${world.apollo}/members/${colleague.id}`,
        {
          method: 'PUT',
          body: { role: 'viewer' },
        },
      );
      assert.equal(added.status, 200, added.body);
      assert.equal((json(added).member as { kind: string }).kind, 'external');
      assert.equal((await colleague.call(`/v1/projects/${world.apollo}`)).status, 200);
      // A viewer reads, and changes nothing.
      const edit = await colleague.call(`/v1/projects/${world.apollo}`, {
        method: 'PATCH',
        body: { name: 'x' },
      });
      assert.equal(edit.status, 403);

      // The partner ends the link: its people are out at their next request.
      const ended = await initechAdmin.call(`/v1/partner-links/${link.id}`, { method: 'DELETE' });
      assert.equal(ended.status, 200, ended.body);
      assert.equal((json(ended) as { removedMembers: number }).removedMembers, 1);
      assert.equal((await colleague.call(`/v1/projects/${world.apollo}`)).status, 404);
      assert.equal((await initechAdmin.call(`/v1/projects/${world.apollo}`)).status, 404);

      // The host ends Globex's link: the external member is out too.
      assert.equal((await call('externalMember', `/v1/projects/${world.apollo}`)).status, 200);
      const hostEnds = await call('orgOwner', `/v1/partner-links/${world.link}`, {
        method: 'DELETE',
      });
      assert.equal(hostEnds.status, 200, hostEnds.body);
      assert.equal((await call('externalMember', `/v1/projects/${world.apollo}`)).status, 404);
      const members = json(await call('orgOwner', `/v1/projects/${world.apollo}/members`)) as {
        members: { userId: string }[];
      };
      assert.ok(!members.members.some((m) => m.userId === world.people.externalMember.id));

      const actions = await ledgerActions(server);
      for (const a of [
        'partner-link.create',
        'partner-link.accept',
        'project.member.add',
        'partner-link.end',
      ]) {
        assert.ok(actions.includes(a), a);
      }
    });

    it('invitations: bound to an address or a domain, single use, expiring, revocable', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      const url = `/v1/projects/${world.apollo}/invitations`;
      const newcomer = await person(server, world, 'newcomer', world.acme);

      const both = await call('orgOwner', url, {
        method: 'POST',
        body: { email: newcomer.email, domain: 'example.test' },
      });
      assert.equal(both.status, 400);
      assert.match(messageOf(both), /exactly one of email or domain/);

      const made = await call('orgOwner', url, {
        method: 'POST',
        body: { email: newcomer.email, role: 'viewer' },
      });
      assert.equal(made.status, 201, made.body);
      const { token, acceptUrl } = json(made) as { token: string; acceptUrl: string };
      assert.match(acceptUrl, /\/invite#bwi_/);

      // Someone else holding the token cannot use it.
      const stranger = await call('internalMember', '/v1/invitations/accept', {
        method: 'POST',
        body: { token },
      });
      assert.equal(stranger.status, 403);
      assert.match(messageOf(stranger), /another e-mail address/);
      const accepted = await newcomer.call('/v1/invitations/accept', {
        method: 'POST',
        body: { token },
      });
      assert.equal(accepted.status, 200, accepted.body);
      assert.equal((json(accepted) as { role: string }).role, 'viewer');
      assert.equal((await newcomer.call(`/v1/projects/${world.apollo}`)).status, 200);
      const reused = await newcomer.call('/v1/invitations/accept', {
        method: 'POST',
        body: { token },
      });
      assert.equal(codeOf(reused), 'link_invalid');
      assert.match(messageOf(reused), /used/);

      // Expired: refused, and nothing joins.
      const late = await person(server, world, 'late', world.acme);
      const old = json(
        await call('orgOwner', url, { method: 'POST', body: { email: late.email } }),
      ) as {
        token: string;
        invitation: { id: string };
      };
      await server.handle
        .storage()
        .db.updateTable('invitations')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', old.invitation.id)
        .execute();
      const expired = await late.call('/v1/invitations/accept', {
        method: 'POST',
        body: { token: old.token },
      });
      assert.equal(codeOf(expired), 'link_invalid');
      assert.match(messageOf(expired), /expired/);
      assert.equal((await late.call(`/v1/projects/${world.apollo}`)).status, 404);

      // Revoked: refused.
      const revokable = json(
        await call('orgOwner', url, { method: 'POST', body: { email: late.email } }),
      ) as {
        token: string;
        invitation: { id: string };
      };
      assert.equal(
        (await call('orgAdmin', `/v1/invitations/${revokable.invitation.id}`, { method: 'DELETE' }))
          .status,
        204,
      );
      const revoked = await late.call('/v1/invitations/accept', {
        method: 'POST',
        body: { token: revokable.token },
      });
      assert.match(messageOf(revoked), /revoked/);

      // A domain invitation: anyone of the org with an address there; a partner's people only through their link.
      const domain = json(
        await call('orgOwner', url, { method: 'POST', body: { domain: 'example.test' } }),
      ) as {
        token: string;
      };
      const outsider = await call('unrelated', '/v1/invitations/accept', {
        method: 'POST',
        body: { token: domain.token },
      });
      assert.equal(outsider.status, 403);
      assert.match(messageOf(outsider), /no active partner link/);
      const viaDomain = await late.call('/v1/invitations/accept', {
        method: 'POST',
        body: { token: domain.token },
      });
      assert.equal(viaDomain.status, 200, viaDomain.body);

      // A guest: an e-mail invitation accepted without an account makes a guest with a passkey enrolment link.
      const guestInvite = json(
        await call('orgOwner', url, { method: 'POST', body: { email: 'guest@elsewhere.test' } }),
      ) as { token: string };
      const guest = await server.request('/v1/invitations/accept-as-guest', {
        method: 'POST',
        body: {
          token: guestInvite.token,
          displayName: 'Gail Guest',
          username: `gail-${randomBytes(3).toString('hex')}`,
        },
      });
      assert.equal(guest.status, 201, guest.body);
      const guestId = (json(guest) as { userId: string; enrolUrl: string }).userId;
      assert.match((json(guest) as { enrolUrl: string }).enrolUrl, /\/enrol#/);
      const guestCall = await sessionWith(server, guestId);
      const guestMembers = json(await guestCall(`/v1/projects/${world.apollo}/members`)) as {
        members: { userId: string; kind: string }[];
      };
      assert.equal(guestMembers.members.find((m) => m.userId === guestId)?.kind, 'external');
      // A guest is not a member of the org: its groups and policy are not theirs to read.
      assert.equal((await guestCall(`/v1/orgs/${world.acme}/groups`)).status, 403);

      const actions = await ledgerActions(server);
      assert.ok(actions.filter((a) => a === 'invitation.accept').length >= 3);
      assert.ok(actions.includes('invitation.revoke'));
    });

    it('groups: nested and LDAP-free by hand, a group as a member, cycles refused', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      const carol = await person(server, world, 'carol', world.acme);
      assert.equal((await carol.call(`/v1/projects/${world.apollo}`)).status, 404);

      const mk = async (name: string) =>
        (
          json(
            await call('orgAdmin', `/v1/orgs/${world.acme}/groups`, {
              method: 'POST',
              body: { name },
            }),
          ).group as {
            id: string;
          }
        ).id;
      const outer = await mk('Outer');
      const inner = await mk('Inner');
      const dup = await call('orgAdmin', `/v1/orgs/${world.acme}/groups`, {
        method: 'POST',
        body: { name: 'outer' },
      });
      assert.equal(codeOf(dup), 'conflict');

      const put = (g: string, kind: string, id: string) =>
        call('orgAdmin', `/v1/groups/${g}/members/${kind}/${id}`, { method: 'PUT', body: {} });
      assert.equal((await put(outer, 'group', inner)).status, 200);
      assert.equal((await put(inner, 'user', carol.id)).status, 200);
      // inner → outer would close a cycle: refused, naming it; nothing changed.
      const cycle = await put(inner, 'group', outer);
      assert.equal(cycle.status, 400);
      assert.match(messageOf(cycle), /Cycle/);
      const self = await put(outer, 'group', outer);
      assert.equal(self.status, 400);
      const innerMembers = json(await call('orgAdmin', `/v1/groups/${inner}`)) as {
        members: unknown[];
      };
      assert.equal(innerMembers.members.length, 1);
      // People and groups of another org are unknown here.
      assert.equal((await put(outer, 'user', world.people.externalMember.id)).status, 404);

      // The outer group becomes a viewer of Apollo: carol (inside inner) reads it, and cannot edit.
      const asMember = await call('orgOwner', `/v1/projects/${world.apollo}/groups/${outer}`, {
        method: 'PUT',
        body: { role: 'viewer' },
      });
      assert.equal(asMember.status, 200, asMember.body);
      assert.equal((await carol.call(`/v1/projects/${world.apollo}`)).status, 200);
      assert.equal(
        (await carol.call(`/v1/projects/${world.apollo}`, { method: 'PATCH', body: { name: 'x' } }))
          .status,
        403,
      );
      const removed = await call('orgAdmin', `/v1/groups/${inner}/members/user/${carol.id}`, {
        method: 'DELETE',
      });
      assert.equal(removed.status, 204);
      assert.equal(
        (await carol.call(`/v1/projects/${world.apollo}`)).status,
        404,
        'out again at once',
      );
    });

    it('search sees only whom the caller may: externals find co-members, nobody another tenant', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      await person(server, world, 'zed-acme', world.acme);
      await person(server, world, 'zed-initech', world.initech);
      const names = async (who: Persona, q: string) =>
        (
          json(await call(who, `/v1/directory/search?q=${encodeURIComponent(q)}`)) as {
            people: { displayName: string; email: string | null }[];
          }
        ).people;

      const byInternal = await names('internalMember', 'zed');
      assert.deepEqual(
        byInternal.map((p) => p.displayName),
        ['zed-acme'],
      );
      assert.deepEqual(
        await names('externalMember', 'zed'),
        [],
        'Acme people outside Apollo are hidden',
      );
      const coMembers = await names('externalMember', 'viewer');
      assert.deepEqual(
        coMembers.map((p) => p.displayName),
        ['viewer'],
      );
      assert.equal(coMembers[0]?.email, null, 'partners see names, not addresses');
      assert.deepEqual(
        (await names('unrelated', 'zed')).map((p) => p.displayName),
        ['zed-initech'],
      );
      assert.deepEqual(await names('unrelated', 'member'), []);
      const bad = await call('internalMember', '/v1/directory/search?q=');
      assert.equal(bad.status, 400);
    });

    it('org policy: applies to live sessions, expires by its lifetimes, refuses to lock out every admin', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      const url = `/v1/orgs/${world.acme}/policy`;
      const current = (json(await call('orgOwner', url)) as { policy: Json }).policy;

      // Unknown keys and bad ranges are named; nothing changes.
      const typo = await call('orgOwner', url, {
        method: 'PUT',
        body: { ...current, exportAllowd: true },
      });
      assert.equal(typo.status, 400);
      assert.match(messageOf(typo), /exportAllowd/);
      const badRange = await call('orgOwner', url, {
        method: 'PUT',
        body: {
          ...current,
          internal: { ...(current.internal as Json), sourceCidrs: ['10.0.0.0/33'] },
        },
      });
      assert.equal(badRange.status, 400);
      assert.match(messageOf(badRange), /10\.0\.0\.0\/33/);

      // Only 10/8 allowed: the acting admin (on 127.0.0.1) would lock themselves and everyone out.
      const lockout = await call('orgOwner', url, {
        method: 'PUT',
        body: {
          ...current,
          internal: { ...(current.internal as Json), sourceCidrs: ['10.0.0.0/8'] },
        },
      });
      assert.equal(codeOf(lockout), 'would_lock_out', lockout.body);
      // Hardware keys only, which no admin holds: refused with the reason.
      const keysOnly = await call('orgOwner', url, {
        method: 'PUT',
        body: {
          ...current,
          internal: {
            ...(current.internal as Json),
            phishingResistantMfa: true,
            allowedAaguids: [SECURITY_KEY],
          },
        },
      });
      assert.equal(codeOf(keysOnly), 'would_lock_out');
      assert.match(messageOf(keysOnly), /you would lock yourself out/);
      assert.deepEqual(
        (json(await call('orgOwner', url)) as { policy: Json }).policy,
        current,
        'nothing changed',
      );

      // Passkeys required: the member who signed in with a password is refused at the next request, with why.
      const pw = await sessionWith(server, world.people.internalMember.id, {
        methods: ['password', 'totp'],
      });
      assert.equal((await pw('/v1/orgs')).status, 200);
      const strict = await call('orgOwner', url, {
        method: 'PUT',
        body: {
          ...current,
          internal: { ...(current.internal as Json), phishingResistantMfa: true },
        },
      });
      assert.equal(strict.status, 200, strict.body);
      const refused = await pw('/v1/orgs');
      assert.equal(codeOf(refused), 'policy_unsatisfied');
      assert.match(messageOf(refused), /organisation/i);
      const me = json(await pw('/v1/me')) as { policy: { satisfied: boolean; message: string } };
      assert.equal(me.policy.satisfied, false, 'the client can show why');
      assert.equal(
        (await call('internalMember', '/v1/sessions')).status,
        200,
        'passkey sessions fine',
      );
      // And a new sign-in the policy does not allow never becomes a session.
      await assert.rejects(
        server.handle.identity().sessions.create(world.people.internalMember.id, {
          kind: 'bearer',
          methods: ['password', 'totp'],
        }),
        (err: Error & { code?: string }) =>
          err.code === 'method_not_allowed_by_policy' && /passkey/.test(err.message),
      );

      // Lifetimes: a session idle longer than the policy allows is ended.
      const short = await call('orgOwner', url, {
        method: 'PUT',
        body: { ...current, internal: { ...(current.internal as Json), sessionIdleMinutes: 5 } },
      });
      assert.equal(short.status, 200, short.body);
      const idle = await server.handle.identity().sessions.create(world.people.internalViewer.id, {
        kind: 'bearer',
        methods: ['passkey'],
      });
      await server.handle
        .storage()
        .db.updateTable('sessions')
        .set({ last_seen_at: new Date(Date.now() - 10 * 60_000).toISOString() })
        .where('user_id', '=', world.people.internalViewer.id)
        .execute();
      const gone = await server.request('/v1/sessions', {
        headers: { authorization: `Bearer ${idle.token}` },
      });
      assert.equal(gone.status, 401, gone.body);
      const again = await server.request('/v1/me', {
        headers: { authorization: `Bearer ${idle.token}` },
      });
      assert.equal(again.status, 401, 'the session was ended, not just refused');
    });

    it('provenance: versions of a project chain by hash, each proven in the signed ledger', async (t) => {
      const { server, world } = await setup(t, backend);
      const { call } = world;
      const made = await call('orgOwner', `/v1/orgs/${world.acme}/projects`, {
        method: 'POST',
        body: { key: 'HERMES', name: 'Hermes' },
      });
      assert.equal(made.status, 201, made.body);
      const id = (json(made).project as { id: string }).id;
      for (const name of ['Hermes II', 'Hermes III']) {
        const renamed = await call('orgAdmin', `/v1/projects/${id}`, {
          method: 'PATCH',
          body: { name },
        });
        assert.equal(renamed.status, 200, renamed.body);
      }
      type History = {
        versions: (ObjectVersion & {
          entry: { action: string; actor: { userId: string; channel: string } };
        })[];
      };
      const historyAnswer = await call('orgAdmin', `/v1/projects/${id}/history`);
      assert.equal(historyAnswer.status, 200, historyAnswer.body);
      const history = json(historyAnswer) as History;
      assert.deepEqual(
        history.versions.map((v) => v.entry.action),
        ['project.create', 'project.update', 'project.update'],
      );
      assert.deepEqual(verifyVersionChain(history.versions), { ok: true, versions: 3 });
      // Where it came from: the creator, then who changed it, through which channel.
      assert.equal(history.versions[0]?.entry.actor.userId, world.people.orgOwner.id);
      assert.equal(history.versions[1]?.entry.actor.userId, world.people.orgAdmin.id);
      assert.ok(
        history.versions.every((v) => v.entry.actor.channel === 'api'),
        'bearer tokens',
      );

      // Each version's entry is in the signed tree: the leaf hashes to it and its proof leads to the root.
      const key = json(await call('installationAdmin', '/v1/audit/key')) as {
        origin: string;
        verifierKey: string;
      };
      const note = (
        await call('installationAdmin', '/v1/audit/checkpoint', { method: 'POST', body: {} })
      ).body;
      const head = verifyCheckpoint(
        note,
        [Ed25519NoteVerifier.fromVerifierKey(key.verifierKey)],
        key.origin,
      ).checkpoint;
      for (const v of history.versions) {
        const raw = await server.handle
          .storage()
          .db.selectFrom('audit_entries')
          .select('entry')
          .where('seq', '=', v.seq)
          .executeTakeFirstOrThrow();
        const leaf = leafHash(new TextEncoder().encode(raw.entry));
        assert.equal(toHex(leaf), v.leafHash);
        const proof = json(
          await call('internalMember', `/v1/audit/proofs/inclusion?seq=${v.seq}&size=${head.size}`),
        ) as { proof: string[] };
        assert.ok(
          verifyInclusion(leaf, v.seq, head.size, proof.proof.map(fromHex), head.rootHash),
          `version ${v.version}`,
        );
      }

      // Tampering with the stored history is caught by the chain: a changed digest, a dropped version.
      const db = server.handle.storage().db;
      await db
        .updateTable('object_versions')
        .set({ after_sha256: 'f'.repeat(64) })
        .where('object_id', '=', id)
        .where('version', '=', 2)
        .execute();
      const altered = json(await call('orgAdmin', `/v1/projects/${id}/history`)) as History;
      assert.deepEqual(verifyVersionChain(altered.versions), {
        ok: false,
        version: 2,
        reason: 'its hash does not match its contents',
      });
      await db
        .deleteFrom('object_versions')
        .where('object_id', '=', id)
        .where('version', '=', 2)
        .execute();
      const dropped = json(await call('orgAdmin', `/v1/projects/${id}/history`)) as History;
      assert.equal(verifyVersionChain(dropped.versions).ok, false);
      // Outsiders learn nothing of it.
      assert.equal((await call('unrelated', `/v1/projects/${id}/history`)).status, 404);
    });

    it('roles, owners and unknown ids: clear errors, nothing changed', async (t) => {
      const { world } = await setup(t, backend);
      const { call } = world;
      // The last owner can neither leave nor be demoted.
      const leave = await call('orgOwner', `/v1/projects/${world.apollo}/leave`, {
        method: 'POST',
        body: {},
      });
      assert.equal(codeOf(leave), 'would_lock_out');
      const demote = await call(
        'orgAdmin',
        `/v1/projects/${world.apollo}/members/${world.people.orgOwner.id}`,
        {
          method: 'PUT',
          body: { role: 'member' },
        },
      );
      assert.equal(codeOf(demote), 'would_lock_out');
      const orgDemote = await call(
        'orgOwner',
        `/v1/admin/users/${world.people.orgOwner.id}/org-role`,
        {
          method: 'PUT',
          body: { role: 'member' },
        },
      );
      assert.equal(codeOf(orgDemote), 'would_lock_out');

      for (const path of [
        `/v1/projects/${randomUUID()}`,
        '/v1/projects/not-a-uuid',
        `/v1/orgs/${randomUUID()}/projects`,
        `/v1/groups/${randomUUID()}`,
      ]) {
        const answer = await call('orgOwner', path);
        assert.equal(answer.status, 404, path);
      }
      const badKey = await call('orgOwner', `/v1/orgs/${world.acme}/projects`, {
        method: 'POST',
        body: { key: 'apollo', name: 'Lowercase' },
      });
      assert.equal(badKey.status, 400);
      assert.match(messageOf(badKey), /key/);
      const dupKey = await call('orgOwner', `/v1/orgs/${world.acme}/projects`, {
        method: 'POST',
        body: { key: 'APOLLO', name: 'Again' },
      });
      assert.equal(codeOf(dupKey), 'conflict');
      // Another org may use the same key: keys are unique per org.
      const elsewhere = await call('partnerAdmin', `/v1/orgs/${world.globex}/projects`, {
        method: 'POST',
        body: { key: 'APOLLO', name: 'Globex Apollo' },
      });
      assert.equal(elsewhere.status, 201, elsewhere.body);
    });
  });
}
