/**
 * Erasure without breaking the chain (issue 5): a person's data inside
 * ledger entries is sealed under their own key; erasing them deletes the
 * key. Afterwards the entries read "erased" where the data was, every entry
 * and signed head still verifies, and nothing of theirs can be read back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildWorld } from '../support/directory-world.ts';
import type { Answer } from '../support/https.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

type Row = {
  seq: number;
  leafHash: string;
  entry: { action: string; actor: { userId: string | null } };
  personal: unknown;
};
const json = (a: Answer) => JSON.parse(a.body) as Record<string, unknown>;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`audit erasure (${backend})`, () => {
    it('erasing a person shreds their data in the ledger; the ledger still verifies', async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      const server = await startTestServer(t, { dataDir: tempDir(t), postgres: pg });
      await server.request('/v1/sys/init', {
        method: 'POST',
        body: { passphrase: 'erasure passphrase' },
      });
      const world = await buildWorld(server);
      const { call } = world;
      const identity = server.handle.identity();

      // Erin joins Apollo through an invitation: an entry whose actor is Erin, from this address.
      const username = `erin-${randomBytes(3).toString('hex')}`;
      const email = `${username}@example.test`;
      const erin = await identity.users.create({
        displayName: 'Erin',
        username,
        email,
        orgId: world.acme,
      });
      const erinSession = await identity.sessions.create(erin.id, {
        kind: 'bearer',
        methods: ['passkey'],
      });
      const asErin = { authorization: `Bearer ${erinSession.token}` };
      const invite = json(
        await call('orgOwner', `/v1/projects/${world.apollo}/invitations`, {
          method: 'POST',
          body: { email },
        }),
      ) as { token: string };
      const accepted = await server.request('/v1/invitations/accept', {
        method: 'POST',
        headers: asErin,
        body: { token: invite.token },
      });
      assert.equal(accepted.status, 200, accepted.body);

      const erinsEntries = async () =>
        (
          json(await call('orgAdmin', `/v1/orgs/${world.acme}/audit/entries?limit=1000`)) as {
            entries: Row[];
          }
        ).entries.filter((e) => e.entry.actor.userId === erin.id);
      const before = await erinsEntries();
      assert.ok(before.length >= 1);
      const source = (before[0]?.personal as { source?: string } | null)?.source ?? '';
      assert.match(source, /127\.0\.0\.1/, 'readable by the org admin before erasure');
      const raw = await server.handle
        .storage()
        .db.selectFrom('audit_entries')
        .select(['seq', 'entry'])
        .execute();
      assert.ok(
        raw.every((r) => !r.entry.includes('127.0.0.1')),
        'never stored in the clear',
      );

      // Refused: oneself, an owner. Then Erin is erased (a sensitive, audited action).
      assert.equal(
        (
          await call('orgOwner', `/v1/admin/users/${world.people.orgOwner.id}/erase`, {
            method: 'POST',
            body: {},
          })
        ).status,
        400,
      );
      assert.equal(
        (
          await call('orgAdmin', `/v1/admin/users/${world.people.orgOwner.id}/erase`, {
            method: 'POST',
            body: {},
          })
        ).status,
        409,
      );
      const erased = await call('orgAdmin', `/v1/admin/users/${erin.id}/erase`, {
        method: 'POST',
        body: {},
      });
      assert.equal(erased.status, 200, erased.body);

      const after = await erinsEntries();
      assert.deepEqual(
        after.map((e) => [e.seq, e.leafHash, e.personal]),
        before.map((e) => [e.seq, e.leafHash, 'erased']),
        'the same entries, byte for byte, with the data gone',
      );
      const verify = json(
        await call('installationAdmin', '/v1/audit/verify', { method: 'POST', body: {} }),
      );
      assert.equal(verify.ok, true, JSON.stringify(verify));
      const key = await server.handle
        .storage()
        .db.selectFrom('subject_keys')
        .selectAll()
        .where('subject_id', '=', erin.id)
        .executeTakeFirstOrThrow();
      assert.equal(key.key_enc, null, 'the key itself is gone');

      // The account is stripped to its id, signed out, and out of the project.
      const account = await identity.users.get(erin.id);
      assert.deepEqual(
        [account?.displayName, account?.email, account?.username, account?.status],
        ['Erased user', null, null, 'disabled'],
      );
      assert.equal((await server.request('/v1/me', { headers: asErin })).status, 401);
      const members = json(await call('orgOwner', `/v1/projects/${world.apollo}/members`)) as {
        members: { userId: string }[];
      };
      assert.ok(!members.members.some((m) => m.userId === erin.id));
      const entries = (
        json(await call('orgAdmin', `/v1/orgs/${world.acme}/audit/entries?limit=1000`)) as {
          entries: Row[];
        }
      ).entries;
      assert.ok(
        entries.some((e) => e.entry.action === 'user.erase'),
        'the erasure is itself recorded',
      );
    });
  });
}
