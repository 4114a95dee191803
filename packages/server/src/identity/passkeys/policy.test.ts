import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPasskeyPolicy, permissivePasskeyPolicy } from './policy.ts';

const yubikey = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const other = '00000000-0000-0000-0000-000000000000';
const hw = { aaguid: yubikey, deviceType: 'singleDevice', backedUp: false } as const;
const synced = { aaguid: other, deviceType: 'multiDevice', backedUp: true } as const;

describe('passkey policy', () => {
  it('allows everything by default', () => {
    assert.deepEqual(checkPasskeyPolicy(permissivePasskeyPolicy, hw), { allowed: true });
    assert.deepEqual(checkPasskeyPolicy(permissivePasskeyPolicy, synced), { allowed: true });
  });

  it('an empty allow-list allows everything', () => {
    assert.equal(checkPasskeyPolicy({ allowedAaguids: [] }, synced).allowed, true);
  });

  it('a non-empty allow-list admits only its AAGUIDs (case-insensitive)', () => {
    const policy = { allowedAaguids: [yubikey.toUpperCase()] };
    assert.equal(checkPasskeyPolicy(policy, hw).allowed, true);
    assert.equal(checkPasskeyPolicy(policy, { ...hw, aaguid: other }).allowed, false);
  });

  it('the deny-list wins over the allow-list', () => {
    const decision = checkPasskeyPolicy(
      { allowedAaguids: [yubikey], deniedAaguids: [yubikey] },
      hw,
    );
    assert.equal(decision.allowed, false);
  });

  it('requireHardwareBound refuses synced and backup-eligible credentials', () => {
    const policy = { requireHardwareBound: true };
    assert.equal(checkPasskeyPolicy(policy, hw).allowed, true);
    assert.equal(checkPasskeyPolicy(policy, synced).allowed, false);
    assert.equal(
      checkPasskeyPolicy(policy, { ...hw, deviceType: 'multiDevice', backedUp: false }).allowed,
      false,
    );
  });
});
