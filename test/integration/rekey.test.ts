/**
 * Key rotation: the same root key (so the same data) under new unseal
 * material; the old passphrase and shares die, and rotation cannot be done
 * with the operator token alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SettingsStore } from '../../packages/server/src/settings/settings-store.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const oldPassphrase = 'the old passphrase 2025';
const newPassphrase = 'the new passphrase 2026';

function code(answer: { json: unknown }) {
  return (answer.json as { error?: { code: string } }).error?.code;
}

function operator(server: TestServer) {
  const token = readFileSync(join(server.dataDir, 'operator.token'), 'utf8').trim();
  return { authorization: `Bearer ${token}` };
}

describe('rekey', () => {
  it('rotates passphrase and shares without touching the data; old material stops working', async (t) => {
    const dataDir = tempDir(t);
    const first = await startTestServer(t, { dataDir });
    const init = await first.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: oldPassphrase, shares: { count: 3, threshold: 2 } },
    });
    const oldShares = (init.json as { shares: string[] }).shares;
    await new SettingsStore(first.handle.storage()).set('motto', 'survives rotation');
    const keyringBefore = readFileSync(join(dataDir, 'keyring.json'), 'utf8');

    const next = { passphrase: newPassphrase, shares: { count: 4, threshold: 3 } };
    // The operator token alone is not enough.
    const noProof = await first.request('/v1/sys/rekey', {
      method: 'POST',
      headers: operator(first),
      body: { current: { passphrase: 'a wrong passphrase!' }, next },
    });
    assert.equal(code(noProof), 'unseal_failed');
    const noToken = await first.request('/v1/sys/rekey', {
      method: 'POST',
      body: { current: { passphrase: oldPassphrase }, next },
    });
    assert.equal(noToken.status, 401);
    const tooFew = await first.request('/v1/sys/rekey', {
      method: 'POST',
      headers: operator(first),
      body: { current: { shares: [oldShares[0]] }, next },
    });
    assert.equal(code(tooFew), 'bad_request');
    assert.equal(
      readFileSync(join(dataDir, 'keyring.json'), 'utf8'),
      keyringBefore,
      'refusals change nothing',
    );

    const rotated = await first.request('/v1/sys/rekey', {
      method: 'POST',
      headers: operator(first),
      body: { current: { shares: oldShares.slice(1) }, next },
    });
    assert.equal(rotated.status, 200, rotated.body);
    const newShares = (rotated.json as { shares: string[] }).shares;
    assert.equal(newShares.length, 4);
    assert.deepEqual((rotated.json as { providers: string[] }).providers, ['passphrase', 'shamir']);
    const keyringAfter = JSON.parse(readFileSync(join(dataDir, 'keyring.json'), 'utf8'));
    assert.equal(
      keyringAfter.installationId,
      (init.json as { installationId: string }).installationId,
    );
    assert.ok(keyringAfter.rotatedAt);
    await first.close();

    const second = await startTestServer(t, { dataDir });
    assert.equal(
      code(
        await second.request('/v1/sys/unseal', {
          method: 'POST',
          body: { passphrase: oldPassphrase },
        }),
      ),
      'unseal_failed',
    );
    for (const share of oldShares.slice(0, 2)) {
      await second.request('/v1/sys/unseal', { method: 'POST', body: { share } });
    }
    assert.equal(
      ((await second.request('/v1/sys/status')).json as { state: string }).state,
      'sealed',
      'old shares do not unlock',
    );
    await second.request('/v1/sys/unseal', { method: 'POST', body: { reset: true } });
    for (const share of newShares.slice(1)) {
      const answer = await second.request('/v1/sys/unseal', { method: 'POST', body: { share } });
      assert.equal(answer.status, 200, answer.body);
    }
    assert.equal(
      ((await second.request('/v1/sys/status')).json as { state: string }).state,
      'unsealed',
    );
    assert.equal(
      await new SettingsStore(second.handle.storage()).get('motto'),
      'survives rotation',
    );
  });

  it('is refused while sealed', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir });
    await server.request('/v1/sys/init', { method: 'POST', body: { passphrase: oldPassphrase } });
    await server.request('/v1/sys/seal', { method: 'POST', headers: operator(server), body: {} });
    const answer = await server.request('/v1/sys/rekey', {
      method: 'POST',
      headers: operator(server),
      body: { current: { passphrase: oldPassphrase }, next: { passphrase: newPassphrase } },
    });
    assert.equal(code(answer), 'sealed');
  });
});
