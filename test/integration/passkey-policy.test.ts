/**
 * The passkey policy from the config file reaches registration through the
 * whole server: denied models and synced passkeys are refused at setup.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SoftAuthenticator } from '../../packages/server/src/identity/passkeys/soft-authenticator.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const DENIED = '11111111-2222-3333-4444-555555555555';

async function setupWith(t: Parameters<typeof tempDir>[0], authenticator: SoftAuthenticator) {
  const server = await startTestServer(t, {
    dataDir: tempDir(t),
    config: {
      auth: { passkeys: { deniedAaguids: [DENIED.toUpperCase()], requireHardwareBound: true } },
    },
  });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'policy test passphrase' },
  });
  const token = new URL((init.json as { setupUrl: string }).setupUrl).hash.slice(1);
  const origin = server.handle.identity().relyingParty.origins[0] ?? '';
  const started = await server.request('/v1/auth/setup/options', {
    method: 'POST',
    body: { token, displayName: 'Ada', username: 'ada' },
  });
  assert.equal(started.status, 200, started.body);
  const { challengeId, options } = started.json as {
    challengeId: string;
    options: { challenge: string; rp: { id?: string }; user: { id: string } };
  };
  return server.request('/v1/auth/setup/verify', {
    method: 'POST',
    body: { token, challengeId, response: authenticator.register(options, origin) },
  });
}

describe('passkey policy from config', () => {
  it('refuses a denied authenticator model', async (t) => {
    const answer = await setupWith(t, new SoftAuthenticator({ aaguid: DENIED }));
    assert.equal(answer.status, 403, answer.body);
    assert.equal(
      (answer.json as { error: { code: string } }).error.code,
      'method_not_allowed_by_policy',
    );
  });

  it('refuses a synced (backup-eligible) passkey when hardware-bound keys are required', async (t) => {
    const answer = await setupWith(t, new SoftAuthenticator({ backupEligible: true }));
    assert.equal(
      (answer.json as { error: { code: string } }).error.code,
      'method_not_allowed_by_policy',
    );
  });

  it('accepts a hardware-bound key of another model', async (t) => {
    const answer = await setupWith(
      t,
      new SoftAuthenticator({ aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8' }),
    );
    assert.equal(answer.status, 200, answer.body);
  });

  it('malformed WebAuthn responses get a clear 400 and change nothing', async (t) => {
    const server = await startTestServer(t, { dataDir: tempDir(t) });
    const init = await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'policy test passphrase' },
    });
    const token = new URL((init.json as { setupUrl: string }).setupUrl).hash.slice(1);
    const started = await server.request('/v1/auth/setup/options', {
      method: 'POST',
      body: { token, displayName: 'Ada', username: 'ada' },
    });
    const { challengeId } = started.json as { challengeId: string };
    const bodies = [
      { token, challengeId, response: { id: 123 } },
      { token, challengeId, response: 'not an object' },
      {
        token,
        challengeId,
        response: {
          id: 'x',
          rawId: 'x',
          type: 'public-key',
          response: { clientDataJSON: '!!', attestationObject: '??' },
          clientExtensionResults: {},
        },
      },
    ];
    for (const body of bodies) {
      const answer = await server.request('/v1/auth/setup/verify', { method: 'POST', body });
      assert.ok(
        answer.status === 400,
        `${JSON.stringify(body).slice(0, 60)} → ${answer.status} ${answer.body}`,
      );
      assert.match(
        (answer.json as { error: { code: string } }).error.code,
        /bad_request|webauthn_failed/,
      );
    }
    const login = await server.request('/v1/auth/passkey/login/verify', {
      method: 'POST',
      body: { challengeId: 'nope', response: { id: 'x' } },
    });
    assert.ok([400, 401].includes(login.status), login.body);
    // Nothing was created: the setup link still works for a real ceremony.
    assert.equal(await server.handle.identity().passkeys.adminExists(), false);
  });
});
