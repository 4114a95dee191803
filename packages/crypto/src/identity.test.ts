import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  asDeviceId,
  asUserId,
  createDeviceIdentity,
  createServerIdentity,
  encodeDeviceCredential,
  exportDeviceIdentity,
  exportServerIdentity,
  fingerprint,
  importDeviceIdentity,
  importServerIdentity,
  KeyImportError,
  MlsWireError,
  parseDeviceCredential,
  signWithIdentity,
  verifyIdentitySignature,
} from './index.ts';

const USER = '6f1c5e2a-7a43-4c1e-9d1b-0a2b3c4d5e6f';
const DEVICE = '0b9d8c7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e';

describe('device credentials', () => {
  test('round-trip and exact encoding', () => {
    const bytes = encodeDeviceCredential({ userId: asUserId(USER), deviceId: asDeviceId(DEVICE) });
    assert.equal(new TextDecoder().decode(bytes), `bulwark:v1:${USER}:${DEVICE}`);
    assert.deepEqual(parseDeviceCredential(bytes), { userId: USER, deviceId: DEVICE });
  });

  test('anything else is refused', () => {
    const bad = [
      `bulwark:v1:${USER}`,
      `bulwark:v1:${USER}:${DEVICE}:x`,
      `bulwark:v2:${USER}:${DEVICE}`,
      `bulwark:v1:${USER.toUpperCase()}:${DEVICE}`,
      `bulwark:v1:server`,
      ` bulwark:v1:${USER}:${DEVICE}`,
      `bulwark:v1:${USER}:${DEVICE}\n`,
      '',
    ];
    for (const s of bad) {
      assert.throws(
        () => parseDeviceCredential(new TextEncoder().encode(s)),
        MlsWireError,
        JSON.stringify(s),
      );
    }
    assert.throws(() => parseDeviceCredential(new Uint8Array([0xff, 0xfe])), /UTF-8/);
    assert.throws(
      () => encodeDeviceCredential({ userId: 'nope' as never, deviceId: asDeviceId(DEVICE) }),
      TypeError,
    );
  });
});

describe('identities', () => {
  test('export/import round-trips and the imported key still signs', async () => {
    const id = await createDeviceIdentity();
    assert.equal(id.signaturePublicKey.length, 32);
    const exported = exportDeviceIdentity(id);
    assert.deepEqual(Object.keys(exported).sort(), ['kind', 'signKey', 'signaturePublicKey', 'v']);
    const back = await importDeviceIdentity(JSON.parse(JSON.stringify(exported)));
    assert.deepEqual(back, id);
    assert.deepEqual(
      await importDeviceIdentity(JSON.stringify(exported)),
      id,
      'the JSON text works too',
    );
    const sig = await signWithIdentity(back, 'bulwark-device-bind:v1:', new Uint8Array([1, 2, 3]));
    assert.equal(
      await verifyIdentitySignature(
        id.signaturePublicKey,
        'bulwark-device-bind:v1:',
        new Uint8Array([1, 2, 3]),
        sig,
      ),
      true,
    );
  });

  test('import refuses mismatched, swapped or mislabelled keys', async () => {
    const a = exportDeviceIdentity(await createDeviceIdentity());
    const b = exportDeviceIdentity(await createDeviceIdentity());
    await assert.rejects(
      importDeviceIdentity({ ...a, signaturePublicKey: b.signaturePublicKey }),
      KeyImportError,
    );
    await assert.rejects(
      importDeviceIdentity({ ...a, signKey: a.signaturePublicKey }),
      KeyImportError,
    );
    await assert.rejects(
      importDeviceIdentity({ ...a, kind: 'bulwark-server-identity' }),
      KeyImportError,
    );
    await assert.rejects(importDeviceIdentity({ ...a, v: 2 }), KeyImportError);
    await assert.rejects(importDeviceIdentity('not json'), KeyImportError);
    await assert.rejects(importDeviceIdentity(null), KeyImportError);
    const server = exportServerIdentity(await createServerIdentity());
    await assert.rejects(importDeviceIdentity(server), KeyImportError);
    assert.equal((await importServerIdentity(server)).kind, 'server');
  });

  test('signatures are bound to their context', async () => {
    const id = await createDeviceIdentity();
    const msg = new Uint8Array(32).fill(7);
    const sig = await signWithIdentity(id, 'bulwark-device-verify:v1:', msg);
    const verify = (ctx: string, m = msg, s = sig, k: Uint8Array = id.signaturePublicKey) =>
      verifyIdentitySignature(k, ctx, m, s);
    assert.equal(await verify('bulwark-device-verify:v1:'), true);
    assert.equal(await verify('bulwark-device-bind:v1:'), false);
    assert.equal(await verify('bulwark-device-verify:v1:', new Uint8Array(32)), false);
    assert.equal(await verify('bulwark-device-verify:v1:', msg, sig.slice(1)), false);
    assert.equal(await verify('bulwark-device-verify:v1:', msg, sig, new Uint8Array(31)), false);
    await assert.rejects(signWithIdentity(id, 'MLS 1.0 foo', msg), TypeError);
    await assert.rejects(verify('bulwark-device-verify'), TypeError);
  });

  test('fingerprint is the hex SHA-256 of the key (FIPS 180-4 known answer)', async () => {
    // SHA-256("abc") from FIPS 180-4 Appendix B.1.
    assert.equal(
      await fingerprint(new TextEncoder().encode('abc')),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
