/**
 * The first-admin setup link in the audit ledger, through the whole server:
 * the link printed at init and each one the operator asks for later
 * (`POST /v1/sys/setup-link`) is recorded as `user.setup-link` in the same
 * transaction as the link itself; when the entry cannot be written no link
 * is issued, and the entry never holds the link's token.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const tokenOf = (answer: { json: unknown }) =>
  new URL((answer.json as { setupUrl: string }).setupUrl).hash.slice(1);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`setup link in the audit ledger (${backend})`, () => {
    it('init and the operator record user.setup-link; a broken ledger issues no link', async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      if (backend === 'postgres' && !pg) return;
      const dataDir = tempDir(t);
      const server = await startTestServer(t, { dataDir, postgres: pg });
      const init = await server.request('/v1/sys/init', {
        method: 'POST',
        body: { passphrase: 'setup link ledger passphrase' },
      });
      assert.equal(init.status, 200, init.body);
      const tokens = [tokenOf(init)];
      const operator = {
        authorization: `Bearer ${readFileSync(join(dataDir, 'operator.token'), 'utf8').trim()}`,
      };
      const db = server.handle.storage().db;
      const ledger = server.handle.ledger();
      const linkEntries = async () =>
        (await ledger.entries(0, 1000)).filter((e) => e.entry.action === 'user.setup-link');
      const issuedLinks = async () =>
        Number(
          (
            await db
              .selectFrom('auth_challenges')
              .select((eb) => eb.fn.countAll<string | number>().as('n'))
              .where('kind', '=', 'setup-link')
              .executeTakeFirstOrThrow()
          ).n,
        );

      // At init: the operator who initialised (no address: not a request of its own).
      let entries = await linkEntries();
      assert.equal(entries.length, 1);
      assert.deepEqual(entries[0]?.entry.actor, {
        kind: 'operator',
        userId: null,
        sessionId: null,
        sourceHash: null,
        channel: 'api',
      });
      assert.deepEqual(entries[0]?.entry.target, { type: 'user', id: null });
      assert.match(entries[0]?.entry.afterSha256 ?? '', /^[0-9a-f]{64}$/);

      // A new link from the operator route: the operator, from their address.
      const again = await server.request('/v1/sys/setup-link', {
        method: 'POST',
        headers: operator,
      });
      assert.equal(again.status, 200, again.body);
      tokens.push(tokenOf(again));
      entries = await linkEntries();
      assert.equal(entries.length, 2);
      const byRoute = entries[1]?.entry;
      assert.equal(byRoute?.actor.kind, 'operator');
      assert.equal(byRoute?.actor.userId, null);
      assert.equal(byRoute?.actor.channel, 'api');
      assert.match(byRoute?.actor.sourceHash ?? '', /^[0-9a-f]{64}$/, 'the address, hashed');
      assert.deepEqual(byRoute?.target, { type: 'user', id: null });
      assert.equal(await issuedLinks(), 2);

      // The ledger never holds a link's token.
      const stored = await db.selectFrom('audit_entries').select('entry').execute();
      for (const token of tokens) {
        assert.ok(token.length >= 43);
        for (const row of stored) assert.ok(!row.entry.includes(token), 'no token in the ledger');
      }

      // Fails closed: no entry, no link.
      const last = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max('seq').as('m'))
        .executeTakeFirstOrThrow();
      const seq = Number(last.m) + 1;
      await db
        .insertInto('audit_entries')
        .values({ seq, entry: '{}', leaf_hash: '00', created_at: 'x' })
        .execute();
      const refused = await server.request('/v1/sys/setup-link', {
        method: 'POST',
        headers: operator,
      });
      assert.equal(refused.status, 500, refused.body);
      assert.equal(await issuedLinks(), 2, 'no link without its entry');
      await db.deleteFrom('audit_entries').where('seq', '=', seq).execute();

      // Once an administrator exists: refused, and nothing recorded.
      await server.handle
        .identity()
        .users.create({ displayName: 'Root', username: 'root', isAdmin: true, orgRole: 'owner' });
      const late = await server.request('/v1/sys/setup-link', {
        method: 'POST',
        headers: operator,
      });
      assert.equal(late.status, 403, late.body);
      assert.equal((await linkEntries()).length, 2);
      assert.equal(await issuedLinks(), 2);
      assert.equal((await ledger.verify()).ok, true);
    });
  });
}
