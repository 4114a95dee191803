/**
 * Restart and unseal on both back ends: data comes back only with the right
 * material; every wrong attempt is a clear error that changes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { UserStore } from '../../packages/server/src/identity/user-store.ts';
import { SettingsStore } from '../../packages/server/src/settings/settings-store.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'restart-test passphrase 42';

interface Status {
  state: string;
  shares: { given: number; threshold: number } | null;
}

async function unseal(server: TestServer, body: object) {
  return server.request('/v1/sys/unseal', { method: 'POST', body });
}

function errorCode(answer: { json: unknown }): string | undefined {
  return (answer.json as { error?: { code?: string } }).error?.code;
}

async function expectStillSealed(server: TestServer, given: number) {
  const status = (await server.request('/v1/sys/status')).json as Status;
  assert.equal(status.state, 'sealed');
  assert.equal(status.shares?.given, given);
  assert.equal((await server.request('/health')).status, 503);
}

async function initAndFill(
  t: TestContext,
  dataDir: string,
  pg: { url: string; schema: string } | null,
) {
  const first = await startTestServer(t, { dataDir, postgres: pg });
  const init = await first.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase, shares: { count: 5, threshold: 3 } },
  });
  assert.equal(init.status, 200, init.body);
  const storage = first.handle.storage();
  const user = await new UserStore(storage).create({
    displayName: 'Ada Restart',
    email: 'ada@example.org',
  });
  await new SettingsStore(storage).set('banner', 'kept across restarts');
  await first.close();
  return { shares: (init.json as { shares: string[] }).shares, userId: user.id };
}

async function otherInstallationShares(t: TestContext): Promise<string[]> {
  const other = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await other.request('/v1/sys/init', {
    method: 'POST',
    body: { shares: { count: 3, threshold: 2 } },
  });
  await other.close();
  return (init.json as { shares: string[] }).shares;
}

async function assertDataBack(server: TestServer, userId: string) {
  const storage = server.handle.storage();
  const user = await new UserStore(storage).get(userId);
  assert.equal(user?.displayName, 'Ada Restart');
  assert.equal(user?.email, 'ada@example.org');
  assert.equal(await new SettingsStore(storage).get('banner'), 'kept across restarts');
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`restart and unseal (${backend})`, () => {
    it('comes up sealed; wrong material is refused without changing anything; the right material brings the data back', async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      if (backend === 'postgres' && !pg) return;
      const dataDir = tempDir(t);
      const { shares, userId } = await initAndFill(t, dataDir, pg);
      const foreign = await otherInstallationShares(t);
      const keyringBefore = readFileSync(join(dataDir, 'keyring.json'));

      const server = await startTestServer(t, { dataDir, postgres: pg });
      await expectStillSealed(server, 0);
      assert.equal(errorCode(await server.request('/v1/sys/status/../../anything')), 'sealed');

      const wrong = await unseal(server, { passphrase: 'not the passphrase at all' });
      assert.equal(wrong.status, 400);
      assert.equal(errorCode(wrong), 'unseal_failed');
      assert.match((wrong.json as { error: { message: string } }).error.message, /still sealed/);
      await expectStillSealed(server, 0);

      const malformed = await unseal(server, { share: 'bulwark-share-v1.garbage' });
      assert.equal(errorCode(malformed), 'invalid_share');
      const damaged = await unseal(server, {
        share: `${shares[0]?.slice(0, -12)}AAAA${shares[0]?.slice(-8)}`,
      });
      assert.equal(errorCode(damaged), 'invalid_share');
      const fromElsewhere = await unseal(server, { share: foreign[0] });
      assert.equal(errorCode(fromElsewhere), 'foreign_share');
      await expectStillSealed(server, 0);

      // k−1 shares: progress, still sealed, every other route still refused.
      for (const [i, share] of shares.slice(0, 2).entries()) {
        const answer = await unseal(server, { share });
        assert.equal(answer.status, 200, answer.body);
        assert.equal((answer.json as Status).shares?.given, i + 1);
      }
      await expectStillSealed(server, 2);
      assert.equal(errorCode(await server.request('/metrics')), 'sealed');
      assert.equal(errorCode(await unseal(server, { share: shares[1] })), 'duplicate_share');
      await expectStillSealed(server, 2);

      // An operator can start over.
      const reset = await unseal(server, { reset: true });
      assert.equal((reset.json as Status).shares?.given, 0);

      // Nothing above touched the keyring.
      assert.deepEqual(readFileSync(join(dataDir, 'keyring.json')), keyringBefore);

      // Three operators in turn, a different three than before.
      for (const share of [shares[4], shares[2], shares[3]]) {
        const answer = await unseal(server, { share });
        assert.equal(answer.status, 200, answer.body);
      }
      assert.equal(((await server.request('/v1/sys/status')).json as Status).state, 'unsealed');
      assert.equal((await server.request('/health')).status, 200);
      await assertDataBack(server, userId);

      // Seal needs the operator token; then the passphrase unseals too.
      const token = readFileSync(join(dataDir, 'operator.token'), 'utf8').trim();
      const anonymousSeal = await server.request('/v1/sys/seal', { method: 'POST', body: {} });
      assert.equal(anonymousSeal.status, 401);
      const sealed = await server.request('/v1/sys/seal', {
        method: 'POST',
        body: {},
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal((sealed.json as Status).state, 'sealed', sealed.body);
      assert.throws(() => server.handle.storage(), /sealed/);
      assert.equal((await unseal(server, { passphrase })).status, 200);
      await assertDataBack(server, userId);
    });
  });
}

describe('storage from another installation', () => {
  it('refuses to open a PostgreSQL schema written by another installation', async (t) => {
    const pg = await postgresSchema(t);
    if (!pg) return;
    const { shares } = await initAndFill(t, tempDir(t), pg);
    assert.equal(shares.length, 5);
    // A second installation pointed at the same schema must refuse to init over it.
    const intruder = await startTestServer(t, { dataDir: tempDir(t), postgres: pg });
    const init = await intruder.request('/v1/sys/init', { method: 'POST', body: { passphrase } });
    assert.equal(errorCode(init), 'storage_mismatch', init.body);
    assert.equal(
      ((await intruder.request('/v1/sys/status')).json as Status).state,
      'uninitialized',
    );
  });
});
