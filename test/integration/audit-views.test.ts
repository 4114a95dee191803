/**
 * Who reads which ledger entries (issue 5, item 8) and retention: org
 * admins their org, project admins their project, everyone their own
 * actions; filters never widen a view; retention empties old content but
 * never a hash, so the tree, heads and proofs still verify.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ed25519NoteVerifier, fromHex, verifyCheckpoint, verifyInclusion } from '@bulwark/ledger';
import { sweepRetention } from '../../packages/server/src/audit/retention.ts';
import { buildWorld, givePasskey } from '../support/directory-world.ts';
import type { Answer } from '../support/https.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

type Row = {
  seq: number;
  leafHash: string;
  pruned: boolean;
  entry: {
    action: string;
    actor: { userId: string | null };
    org: string | null;
    project: string | null;
  } | null;
};
const json = (a: Answer) => JSON.parse(a.body) as Record<string, unknown>;
const rows = (a: Answer) => {
  assert.equal(a.status, 200, a.body);
  return (json(a) as { entries: Row[] }).entries;
};

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`audit views and retention (${backend})`, () => {
    it('each reader sees what they may, filters narrow and never widen', async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      const server = await startTestServer(t, { dataDir: tempDir(t), postgres: pg });
      await server.request('/v1/sys/init', {
        method: 'POST',
        body: { passphrase: 'audit views passphrase' },
      });
      const world = await buildWorld(server);
      const { call } = world;
      // Some history: the owner renames Apollo twice, the admin makes a group, Globex makes a project.
      for (const name of ['Apollo 2', 'Apollo 3']) {
        assert.equal(
          (
            await call('orgOwner', `/v1/projects/${world.apollo}`, {
              method: 'PATCH',
              body: { name },
            })
          ).status,
          200,
        );
      }
      await call('orgAdmin', `/v1/orgs/${world.acme}/groups`, {
        method: 'POST',
        body: { name: 'Ops' },
      });
      const globexProject = json(
        await call('partnerAdmin', `/v1/orgs/${world.globex}/projects`, {
          method: 'POST',
          body: { key: 'GX', name: 'Globex X' },
        }),
      ).project as { id: string };

      // Everyone: their own actions only.
      const mine = rows(await call('orgAdmin', '/v1/me/audit/entries?limit=1000'));
      assert.ok(
        mine.length > 0 && mine.every((r) => r.entry?.actor.userId === world.people.orgAdmin.id),
      );
      assert.equal(
        (await call('orgAdmin', `/v1/me/audit/entries?actor=${world.people.orgOwner.id}`)).status,
        403,
      );

      // A project's admins: that project's entries; filters by action (a domain) and time.
      const apollo = rows(
        await call('orgOwner', `/v1/projects/${world.apollo}/audit/entries?limit=1000`),
      );
      assert.ok(apollo.length >= 2 && apollo.every((r) => r.entry?.project === world.apollo));
      const updates = rows(
        await call('orgOwner', `/v1/projects/${world.apollo}/audit/entries?action=project.*`),
      );
      assert.deepEqual(
        updates.map((r) => r.entry?.action),
        ['project.update', 'project.update'],
      );
      const future = new Date(Date.now() + 3600_000).toISOString();
      assert.deepEqual(
        rows(
          await call(
            'orgOwner',
            `/v1/projects/${world.apollo}/audit/entries?since=${encodeURIComponent(future)}`,
          ),
        ),
        [],
      );
      // LIKE wildcards in a filter are matched literally.
      assert.deepEqual(
        rows(await call('orgOwner', `/v1/projects/${world.apollo}/audit/entries?issue=%25`)),
        [],
      );
      assert.equal(
        (await call('orgOwner', `/v1/projects/${world.apollo}/audit/entries?action=bad%20action`))
          .status,
        400,
      );

      // An org's admins: their org; a project of another org as a filter is unknown, not empty-and-quiet.
      const acme = rows(await call('orgAdmin', `/v1/orgs/${world.acme}/audit/entries?limit=1000`));
      assert.ok(acme.some((r) => r.entry?.action === 'group.create'));
      assert.ok(acme.every((r) => r.entry?.org === world.acme));
      const foreign = await call(
        'orgAdmin',
        `/v1/orgs/${world.acme}/audit/entries?project=${globexProject.id}`,
      );
      assert.equal(foreign.status, 404, foreign.body);
      // Reading is itself recorded, in the same org.
      assert.ok(
        rows(await call('orgAdmin', `/v1/orgs/${world.acme}/audit/entries?action=audit.read`))
          .length > 0,
      );
    });

    it('retention empties old content, keeps every hash; proofs and verify still hold', async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      const server = await startTestServer(t, { dataDir: tempDir(t), postgres: pg });
      await server.request('/v1/sys/init', {
        method: 'POST',
        body: { passphrase: 'retention passphrase' },
      });
      const world = await buildWorld(server);
      const { call } = world;
      await givePasskey(server, world.people.orgOwner.id, 'adce0002-35bc-c60a-648b-0b25f1f05503');
      await call('orgOwner', `/v1/projects/${world.apollo}`, {
        method: 'PATCH',
        body: { name: 'Old name' },
      });
      await call('partnerAdmin', `/v1/orgs/${world.globex}/groups`, {
        method: 'POST',
        body: { name: 'Globex ops' },
      });
      const policy = (
        json(await call('orgOwner', `/v1/orgs/${world.acme}/policy`)) as {
          policy: Record<string, unknown>;
        }
      ).policy;
      const kept = await call('orgOwner', `/v1/orgs/${world.acme}/policy`, {
        method: 'PUT',
        body: { ...policy, retentionDays: 30 },
      });
      assert.equal(kept.status, 200, kept.body);

      // Acme's entries so far are 40 days old; Globex keeps forever.
      const db = server.handle.storage().db;
      const old = new Date(Date.now() - 40 * 24 * 3600_000).toISOString();
      await db
        .updateTable('audit_entries')
        .set({ created_at: old })
        .where('org_id', '=', world.acme)
        .execute();
      const before = rows(await call('installationAdmin', '/v1/audit/entries?limit=1000'));

      const emptied = await sweepRetention({
        storage: server.handle.storage(),
        ledger: server.handle.ledger(),
        now: new Date(),
      });
      assert.ok(emptied >= 2, `emptied ${emptied}`);
      const after = rows(await call('installationAdmin', '/v1/audit/entries?limit=1000'));
      for (const b of before) {
        const a = after.find((r) => r.seq === b.seq);
        assert.equal(a?.leafHash, b.leafHash, `entry ${b.seq} keeps its hash`);
        const wasAcme = b.entry?.org === world.acme;
        assert.equal(a?.pruned, wasAcme, `entry ${b.seq} (${b.entry?.action})`);
        if (wasAcme) assert.equal(a?.entry, null);
      }
      assert.ok(
        after.some((r) => r.entry?.action === 'audit.retention'),
        'the sweep is recorded',
      );
      assert.equal(
        await sweepRetention({
          storage: server.handle.storage(),
          ledger: server.handle.ledger(),
          now: new Date(),
        }),
        0,
      );

      // The tree is whole: verify passes, and a pruned entry is still proven by its leaf hash.
      const verify = json(
        await call('installationAdmin', '/v1/audit/verify', { method: 'POST', body: {} }),
      );
      assert.equal(verify.ok, true, JSON.stringify(verify));
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
      const pruned = after.find((r) => r.pruned) as Row;
      const proof = json(
        await call(
          'internalMember',
          `/v1/audit/proofs/inclusion?seq=${pruned.seq}&size=${head.size}`,
        ),
      ) as { proof: string[] };
      assert.ok(
        verifyInclusion(
          fromHex(pruned.leafHash),
          pruned.seq,
          head.size,
          proof.proof.map(fromHex),
          head.rootHash,
        ),
      );

      // A pruned row whose leaf hash is then swapped is tampering, and is named.
      await db
        .updateTable('audit_entries')
        .set({ leaf_hash: 'ab'.repeat(32) })
        .where('seq', '=', pruned.seq)
        .execute();
      const broken = json(
        await call('installationAdmin', '/v1/audit/verify', { method: 'POST', body: {} }),
      );
      assert.equal(broken.ok, false);
      assert.equal(broken.firstBadSeq, pruned.seq);
    });
  });
}
