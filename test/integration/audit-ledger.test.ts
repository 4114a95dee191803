/**
 * The audit ledger through the whole server: changes and their entries
 * commit together (or not at all), signed heads verify with the published
 * key, proofs check out, and tampering with storage is found and named.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  Ed25519NoteVerifier,
  fromHex,
  leafHash,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from '@bulwark/ledger';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

interface Entry {
  seq: number;
  entry: { action: string; target: { id: string | null }; actor: { sourceHash: string | null } };
}

async function setup(t: TestContext, pg: { url: string; schema: string } | null = null) {
  const dataDir = tempDir(t);
  const server = await startTestServer(t, { dataDir, postgres: pg });
  await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'audit ledger passphrase' },
  });
  const identity = server.handle.identity();
  const admin = await identity.users.create({
    displayName: 'Root',
    username: 'root',
    isAdmin: true,
    orgRole: 'owner',
  });
  const { token } = await identity.sessions.create(admin.id, {
    kind: 'bearer',
    methods: ['passkey'],
    stepUp: true,
  });
  const auth = { authorization: `Bearer ${token}` };
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    server.request(path, { ...init, headers: auth });
  return { server, dataDir, call };
}

async function checkpointOf(
  call: (p: string, i?: { method?: string; body?: unknown }) => ReturnType<TestServer['request']>,
) {
  const key = (await call('/v1/audit/key')).json as { origin: string; verifierKey: string };
  const note = (await call('/v1/audit/checkpoint', { method: 'POST', body: {} })).body;
  const verifier = Ed25519NoteVerifier.fromVerifierKey(key.verifierKey);
  return verifyCheckpoint(note, [verifier], key.origin).checkpoint;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`audit ledger (${backend})`, () => {
    it('records changes with their entries; heads, inclusion and consistency proofs verify', async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      if (backend === 'postgres' && !pg) return;
      const { call } = await setup(t, pg);
      const first = await checkpointOf(call);
      assert.ok(first.size >= 1, 'init is recorded');

      const created = await call('/v1/admin/users', {
        method: 'POST',
        body: { displayName: 'Eve', username: 'eve' },
      });
      assert.equal(created.status, 201, created.body);
      const eveId = (created.json as { user: { id: string } }).user.id;
      const disabled = await call(`/v1/admin/users/${eveId}/status`, {
        method: 'PUT',
        body: { status: 'disabled' },
      });
      assert.equal(disabled.status, 200, disabled.body);
      const second = await checkpointOf(call);
      assert.equal(second.size, first.size + 2);

      const entries = (
        (await call(`/v1/audit/entries?from=0&limit=100`)).json as { entries: Entry[] }
      ).entries;
      const actions = entries.map((e) => e.entry.action);
      assert.deepEqual(actions.slice(0, 1), ['sys.init']);
      assert.ok(actions.includes('user.create') && actions.includes('user.status'));
      const createEntry = entries.find((e) => e.entry.action === 'user.create');
      assert.equal(createEntry?.entry.target.id, eveId);
      assert.match(
        createEntry?.entry.actor.sourceHash ?? '',
        /^[0-9a-f]{64}$/,
        'the address only as a keyed hash',
      );

      // Inclusion of the user.create entry in the second head.
      const seq = createEntry?.seq ?? -1;
      const proof = (await call(`/v1/audit/proofs/inclusion?seq=${seq}&size=${second.size}`))
        .json as { proof: string[] };
      const raw = await call(`/v1/audit/entries?from=${seq}&limit=1`);
      const stored = (raw.json as { entries: (Entry & { leafHash: string })[] }).entries[0];
      const leaf = fromHex(stored?.leafHash ?? '');
      assert.ok(verifyInclusion(leaf, seq, second.size, proof.proof.map(fromHex), second.rootHash));
      assert.equal(
        verifyInclusion(leaf, seq + 1, second.size, proof.proof.map(fromHex), second.rootHash),
        false,
      );

      // The first head is a prefix of the second.
      const consistency = (
        await call(`/v1/audit/proofs/consistency?from=${first.size}&to=${second.size}`)
      ).json as { proof: string[] };
      assert.ok(
        verifyConsistency(
          first.size,
          second.size,
          consistency.proof.map(fromHex),
          first.rootHash,
          second.rootHash,
        ),
      );

      // Reading the entries was itself recorded.
      const after = (
        (await call('/v1/audit/entries?from=0&limit=1000')).json as { entries: Entry[] }
      ).entries;
      assert.ok(after.some((e) => e.entry.action === 'audit.read'));
      const verify = await call('/v1/audit/verify', { method: 'POST', body: {} });
      assert.equal((verify.json as { ok: boolean }).ok, true, verify.body);
    });
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`audit ledger tampering, directly on the database (${backend})`, () => {
    async function ledgerWithEntries(t: TestContext) {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      if (backend === 'postgres' && !pg) return null;
      const ctx = await setup(t, pg);
      for (const name of ['a1', 'a2', 'a3', 'a4']) {
        await ctx.call('/v1/admin/users', {
          method: 'POST',
          body: { displayName: name, username: name },
        });
      }
      await checkpointOf(ctx.call);
      const db = ctx.server.handle.storage().db;
      const row = (seq: number) =>
        db.selectFrom('audit_entries').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
      const verify = async () =>
        (await ctx.call('/v1/audit/verify', { method: 'POST', body: {} })).json as {
          ok: boolean;
          firstBadSeq: number | null;
          reason: string;
        };
      return { ...ctx, db, row, verify };
    }

    it('a changed field is named, even with its leaf hash recomputed', async (t) => {
      const l = await ledgerWithEntries(t);
      if (!l) return;
      // The first user.create (init, the default org and the setup link come before it).
      const rows = await l.db
        .selectFrom('audit_entries')
        .select(['seq', 'entry'])
        .orderBy('seq')
        .execute();
      const seq = Number(rows.find((r) => r.entry.includes('"user.create"'))?.seq ?? -1);
      const victim = await l.row(seq);
      const forged = victim.entry.replace('"user.create"', '"user.delete"');
      assert.notEqual(forged, victim.entry);
      await l.db
        .updateTable('audit_entries')
        .set({ entry: forged })
        .where('seq', '=', seq)
        .execute();
      let result = await l.verify();
      assert.equal(result.ok, false);
      assert.equal(result.firstBadSeq, seq);
      const leaf = Buffer.from(leafHash(new TextEncoder().encode(forged))).toString('hex');
      await l.db
        .updateTable('audit_entries')
        .set({ leaf_hash: leaf })
        .where('seq', '=', seq)
        .execute();
      result = await l.verify();
      assert.equal(result.firstBadSeq, seq, result.reason);
    });

    it('a deleted entry is named', async (t) => {
      const l = await ledgerWithEntries(t);
      if (!l) return;
      await l.db.deleteFrom('audit_entries').where('seq', '=', 2).execute();
      const result = await l.verify();
      assert.equal(result.ok, false);
      assert.equal(result.firstBadSeq, 2);
      assert.match(result.reason, /missing/);
    });

    it('two swapped entries are named', async (t) => {
      const l = await ledgerWithEntries(t);
      if (!l) return;
      const [one, two] = [await l.row(1), await l.row(2)];
      await l.db
        .updateTable('audit_entries')
        .set({ entry: two.entry, leaf_hash: two.leaf_hash })
        .where('seq', '=', 1)
        .execute();
      await l.db
        .updateTable('audit_entries')
        .set({ entry: one.entry, leaf_hash: one.leaf_hash })
        .where('seq', '=', 2)
        .execute();
      const result = await l.verify();
      assert.equal(result.ok, false);
      assert.equal(result.firstBadSeq, 1);
    });

    it('a truncated tail is caught by the signed head', async (t) => {
      const l = await ledgerWithEntries(t);
      if (!l) return;
      const last = await l.db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max('seq').as('m'))
        .executeTakeFirstOrThrow();
      await l.db.deleteFrom('audit_entries').where('seq', '=', Number(last.m)).execute();
      const result = await l.verify();
      assert.equal(result.ok, false);
      assert.match(result.reason, /truncated/);
    });

    it('a re-hashed forgery of the tail, without the ledger key, fails against the signed head', async (t) => {
      const l = await ledgerWithEntries(t);
      if (!l) return;
      const last = Number(
        (
          await l.db
            .selectFrom('audit_entries')
            .select((eb) => eb.fn.max('seq').as('m'))
            .executeTakeFirstOrThrow()
        ).m,
      );
      const victim = await l.row(last);
      const forged = victim.entry.replace(/"time":"[^"]+"/, '"time":"2020-01-01T00:00:00.000Z"');
      assert.notEqual(forged, victim.entry);
      const leaf = leafHash(new TextEncoder().encode(forged));
      const hex = Buffer.from(leaf).toString('hex');
      // Everything a forger without the key can make consistent: the entry, its
      // leaf hash, and the stored leaf node.
      await l.db
        .updateTable('audit_entries')
        .set({ entry: forged, leaf_hash: hex })
        .where('seq', '=', last)
        .execute();
      await l.db
        .updateTable('audit_nodes')
        .set({ hash: hex })
        .where('level', '=', 0)
        .where('idx', '=', last)
        .execute();
      const result = await l.verify();
      assert.equal(result.ok, false);
      assert.match(result.reason, /signed head/);
    });
  });
}

describe('audit ledger failure', () => {
  it('fails closed: when the entry cannot be written, the change does not happen', async (t) => {
    const { server, call } = await setup(t);
    const db = server.handle.storage().db;
    const count = await db
      .selectFrom('audit_entries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    // Occupy the next sequence number: the ledger's insert will collide.
    await db
      .insertInto('audit_entries')
      .values({ seq: Number(count.n), entry: '{}', leaf_hash: '00', created_at: 'x' })
      .execute();
    const created = await call('/v1/admin/users', {
      method: 'POST',
      body: { displayName: 'Ghost', username: 'ghost' },
    });
    assert.equal(created.status, 500, created.body);
    assert.equal(
      await server.handle.identity().users.findByUsername('ghost'),
      null,
      'no account without its entry',
    );
  });

  it('seal, unseal and rekey are recorded', async (t) => {
    const { server, dataDir, call } = await setup(t);
    const operator = {
      authorization: `Bearer ${readFileSync(join(dataDir, 'operator.token'), 'utf8').trim()}`,
    };
    await server.request('/v1/sys/rekey', {
      method: 'POST',
      headers: operator,
      body: {
        current: { passphrase: 'audit ledger passphrase' },
        next: { passphrase: 'audit ledger passphrase 2' },
      },
    });
    await server.request('/v1/sys/seal', { method: 'POST', headers: operator, body: {} });
    await server.request('/v1/sys/unseal', {
      method: 'POST',
      body: { passphrase: 'audit ledger passphrase 2' },
    });
    const identity = server.handle.identity();
    const admin = await identity.users.findByUsername('root');
    const fresh = await identity.sessions.create(admin?.id ?? '', {
      kind: 'bearer',
      methods: ['passkey'],
    });
    const entries = (
      (
        await server.request('/v1/audit/entries?limit=1000', {
          headers: { authorization: `Bearer ${fresh.token}` },
        })
      ).json as { entries: Entry[] }
    ).entries;
    const actions = entries.map((e) => e.entry.action);
    for (const action of ['sys.init', 'sys.rekey', 'sys.seal', 'sys.unseal'])
      assert.ok(actions.includes(action), action);
    // Sessions live in the database: they survive a seal and unseal.
    const verify = await call('/v1/audit/verify', { method: 'POST', body: {} });
    assert.equal((verify.json as { ok: boolean }).ok, true, verify.body);
  });

  it('self-service changes are recorded with their actor: recovery codes, password, sessions', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir, config: { auth: { passwords: true } } });
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'audit ledger passphrase' },
    });
    const identity = server.handle.identity();
    const user = await identity.users.create({
      displayName: 'Sam',
      username: 'sam',
      isAdmin: true,
      orgRole: 'owner',
    });
    const main = await identity.sessions.create(user.id, {
      kind: 'bearer',
      methods: ['passkey'],
      stepUp: true,
    });
    const other = await identity.sessions.create(user.id, { kind: 'bearer', methods: ['passkey'] });
    const headers = { authorization: `Bearer ${main.token}` };
    const ok = async (path: string, method: string, body?: unknown) => {
      const answer = await server.request(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      assert.ok(answer.status < 300, `${method} ${path}: ${answer.body}`);
    };
    await ok('/v1/me/recovery-codes', 'POST', {});
    await ok(`/v1/sessions/${other.session.id}`, 'DELETE');
    await ok('/v1/me/password', 'PUT', { password: 'tangerine ladder quartz 9' });
    await ok('/v1/sessions/revoke-others', 'POST', {});
    const entries = (
      (await server.request('/v1/audit/entries?limit=1000', { headers })).json as {
        entries: (Entry & { entry: { actor: { userId: string | null } } })[];
      }
    ).entries;
    for (const action of [
      'recovery-codes.regenerate',
      'session.revoke',
      'password.set',
      'session.revoke-others',
    ]) {
      const found = entries.find((e) => e.entry.action === action);
      assert.ok(found, `${action} is recorded`);
      assert.equal(found.entry.actor.userId, user.id);
    }
  });
});
