import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type Backend, testStorage } from '../../../../../test/support/storage.ts';
import { BulwarkError } from '../../errors.ts';
import type { Clock } from '../secret-hasher.ts';
import { UserStore } from '../user-store.ts';
import { hashPassword, parsePasswordHash } from './hashing.ts';
import { PasswordService } from './service.ts';

const clock: Clock = { now: () => new Date('2026-01-02T03:04:05.000Z') };
const PASSWORD = 'lantern-river-Stone-42';

/** null when the PostgreSQL variant is skipped (no PostgreSQL outside CI). */
async function setup(t: TestContext, backend: Backend) {
  const opened = await testStorage(t, backend);
  if (!opened) return null;
  const { storage } = opened;
  const users = new UserStore(storage);
  const ada = await users.create({ displayName: 'Ada', email: 'ada@example.org' });
  const bob = await users.create({ displayName: 'Bob' });
  return { storage, ada, bob, passwords: new PasswordService({ storage, clock }) };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`PasswordService on real storage (${backend})`, () => {
    it('sets, verifies and removes a password', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { passwords, ada, bob } = s;
      assert.equal(await passwords.hasPassword(ada.id), false);
      assert.equal(await passwords.verify(ada.id, PASSWORD), false);

      await passwords.setPassword(ada.id, PASSWORD, { email: 'ada@example.org' });
      assert.equal(await passwords.hasPassword(ada.id), true);
      assert.equal(await passwords.hasPassword(bob.id), false);
      assert.equal(await passwords.verify(ada.id, PASSWORD), true);
      assert.equal(await passwords.verify(ada.id, `${PASSWORD}x`), false);
      assert.equal(await passwords.verify(bob.id, PASSWORD), false, 'another user');
      assert.equal(await passwords.verify('no-such-user', PASSWORD), false);
      assert.equal(await passwords.verify(ada.id, 'x'.repeat(100_000)), false);

      await passwords.setPassword(ada.id, 'another-Long-passphrase');
      assert.equal(await passwords.verify(ada.id, PASSWORD), false, 'replaced');
      assert.equal(await passwords.verify(ada.id, 'another-Long-passphrase'), true);

      assert.equal(await passwords.remove(ada.id), true);
      assert.equal(await passwords.remove(ada.id), false);
      assert.equal(await passwords.hasPassword(ada.id), false);
      assert.equal(await passwords.verify(ada.id, 'another-Long-passphrase'), false);
    });

    it('stores an Argon2id PHC string that does not contain the password', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { passwords, storage, ada } = s;
      await passwords.setPassword(ada.id, PASSWORD);
      const rows = await storage.db.selectFrom('password_credentials').selectAll().execute();
      assert.equal(rows.length, 1);
      const row = rows[0];
      assert.ok(row);
      assert.equal(row.user_id, ada.id);
      assert.equal(row.updated_at, clock.now().toISOString());
      assert.match(row.hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(parsePasswordHash(row.hash));
      assert.ok(!JSON.stringify(rows).includes(PASSWORD));
      assert.ok(!JSON.stringify(rows).toLowerCase().includes('lantern'));
    });

    it('refuses a password the policy refuses, with bad_request listing the problems, and stores nothing', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { passwords, ada } = s;
      await assert.rejects(
        passwords.setPassword(ada.id, 'password1234'),
        (err: unknown) =>
          err instanceof BulwarkError &&
          err.code === 'bad_request' &&
          err.message.includes('commonly used') &&
          !err.message.includes('password1234'),
      );
      await assert.rejects(
        passwords.setPassword(ada.id, 'ada-lovelace', { username: 'ada-lovelace' }),
        (err: unknown) =>
          err instanceof BulwarkError && err.code === 'bad_request' && /username/.test(err.message),
      );
      await assert.rejects(
        passwords.setPassword(ada.id, 'short'),
        (err: unknown) =>
          err instanceof BulwarkError &&
          err.code === 'bad_request' &&
          /fewer than 12/.test(err.message),
      );
      assert.equal(await passwords.hasPassword(ada.id), false);
    });

    it('refuses to set a password for an unknown user', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { passwords } = s;
      await assert.rejects(
        passwords.setPassword('no-such-user', PASSWORD),
        (err: unknown) => err instanceof BulwarkError && err.code === 'not_found',
      );
    });

    it('a corrupt stored hash is a failed login, not an error', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { passwords, storage, ada } = s;
      await passwords.setPassword(ada.id, PASSWORD);
      await storage.db
        .updateTable('password_credentials')
        .set({ hash: '$argon2id$v=19$garbage' })
        .where('user_id', '=', ada.id)
        .execute();
      assert.equal(await passwords.verify(ada.id, PASSWORD), false);
    });

    it('upgrades a hash below the current cost at the next successful login', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { passwords, storage, ada } = s;
      const weak = await hashPassword(PASSWORD, { memory: 8192, passes: 1, parallelism: 1 });
      await storage.db
        .insertInto('password_credentials')
        .values({ user_id: ada.id, hash: weak, updated_at: '2020-01-01T00:00:00.000Z' })
        .execute();
      assert.equal(await passwords.verify(ada.id, 'wrong password!'), false);
      const unchanged = await storage.db.selectFrom('password_credentials').selectAll().execute();
      assert.equal(unchanged[0]?.hash, weak, 'a failed login rehashes nothing');

      assert.equal(await passwords.verify(ada.id, PASSWORD), true);
      const rows = await storage.db.selectFrom('password_credentials').selectAll().execute();
      assert.match(rows[0]?.hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal(rows[0]?.updated_at, clock.now().toISOString());
      assert.equal(await passwords.verify(ada.id, PASSWORD), true);
    });

    it('a user without a password costs about as much to check as one with', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const { passwords, ada, bob } = s;
      await passwords.setPassword(ada.id, PASSWORD);
      const time = async (userId: string) => {
        const start = performance.now();
        await passwords.verify(userId, 'a wrong password');
        return performance.now() - start;
      };
      await time(ada.id); // warm up both paths
      await time(bob.id);
      let real = 0;
      let none = 0;
      let unknown = 0;
      for (let i = 0; i < 5; i++) {
        real += await time(ada.id);
        none += await time(bob.id);
        unknown += await time('no-such-user');
      }
      // Loose on purpose (CI machines are noisy): what matters is that the
      // Argon2id work is done, which a short-circuit would skip entirely.
      const detail = `real ${real.toFixed(1)} ms, no password ${none.toFixed(1)} ms, unknown ${unknown.toFixed(1)} ms`;
      assert.ok(none >= real * 0.5, detail);
      assert.ok(unknown >= real * 0.5, detail);
    });
  });
}
