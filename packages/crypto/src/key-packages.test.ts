import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createMemoryKeyPackageStore,
  exportPrivateKeyPackage,
  generateKeyPackages,
  generateLastResortKeyPackage,
  importPrivateKeyPackage,
  inspectKeyPackage,
  KeyImportError,
  MlsWireError,
  supportedCiphersuites,
} from './index.ts';
import { Directory, makeDevice } from './test-fixtures.ts';

describe('key packages', () => {
  for (const suite of supportedCiphersuites) {
    test(`${suite}: what the server learns from an upload`, async () => {
      const device = await makeDevice(new Directory(), 'd');
      const now = new Date('2030-01-01T00:00:00.000Z');
      const [kp] = await generateKeyPackages(device.identity, device, suite, 1, {
        now,
        lifetimeSeconds: 7 * 86400,
      });
      assert.ok(kp);
      const info = await inspectKeyPackage(kp.public);
      assert.equal(info.ciphersuite, suite);
      assert.deepEqual(info.credential, { userId: device.userId, deviceId: device.deviceId });
      assert.deepEqual(info.signaturePublicKey, device.identity.signaturePublicKey);
      assert.equal(info.ref, kp.private.ref);
      assert.match(info.ref, suite.includes('SHA512') ? /^[0-9a-f]{128}$/ : /^[0-9a-f]{64}$/);
      assert.equal(info.notAfter.toISOString(), '2030-01-08T00:00:00.000Z');
      assert.equal(info.notBefore.toISOString(), '2029-12-31T23:00:00.000Z');
      assert.equal(info.lastResort, false);
      assert.equal(info.signatureValid, true);
    });
  }

  test('every key package of a device is signed by its one identity key', async () => {
    const device = await makeDevice(new Directory(), 'd');
    const [classic, xwing] = supportedCiphersuites;
    const kps = [
      ...(await generateKeyPackages(device.identity, device, classic, 3)),
      await generateLastResortKeyPackage(device.identity, device, xwing),
    ];
    const infos = await Promise.all(kps.map((k) => inspectKeyPackage(k.public)));
    for (const info of infos)
      assert.deepEqual(info.signaturePublicKey, device.identity.signaturePublicKey);
    assert.equal(new Set(infos.map((i) => i.ref)).size, 4, 'distinct refs');
    assert.deepEqual(
      infos.map((i) => i.lastResort),
      [false, false, false, true],
    );
  });

  test('a key package whose signature does not verify reports signatureValid: false', async () => {
    const device = await makeDevice(new Directory(), 'd');
    const [kp] = await generateKeyPackages(device.identity, device, supportedCiphersuites[0], 1);
    assert.ok(kp);
    // The KeyPackage signature is the last field: flip a bit inside it.
    const forged = kp.public.slice();
    forged[forged.length - 5] = (forged[forged.length - 5] ?? 0) ^ 0x40;
    const info = await inspectKeyPackage(forged);
    assert.equal(info.signatureValid, false);
    assert.equal(info.ref === kp.private.ref, false);
  });

  test('malformed input throws MlsWireError naming the problem', async () => {
    const device = await makeDevice(new Directory(), 'd');
    const [kp] = await generateKeyPackages(device.identity, device, supportedCiphersuites[0], 1);
    assert.ok(kp);
    await assert.rejects(
      inspectKeyPackage(new Uint8Array()),
      (e: unknown) => e instanceof MlsWireError && /empty/.test(e.message),
    );
    await assert.rejects(
      inspectKeyPackage(kp.public.subarray(0, 50)),
      (e: unknown) => e instanceof MlsWireError && e.reason === 'malformed',
    );
    await assert.rejects(inspectKeyPackage(new Uint8Array([...kp.public, 1])), /trailing/);
    const badSuite = kp.public.slice();
    // MLSMessage version, wire format, KeyPackage version (2 bytes each), then cipher_suite: 2 = P-256.
    badSuite[7] = 0x02;
    await assert.rejects(
      inspectKeyPackage(badSuite),
      (e: unknown) => e instanceof MlsWireError && e.reason === 'unsupported',
    );
  });

  test('private halves export, import, and stay out of JSON and logs', async () => {
    const device = await makeDevice(new Directory(), 'd');
    const [kp] = await generateKeyPackages(device.identity, device, supportedCiphersuites[0], 1);
    assert.ok(kp);
    const json = JSON.stringify(kp.private);
    assert.doesNotMatch(json, /initPrivateKey|hpkePrivateKey/);
    const exported = exportPrivateKeyPackage(kp.private);
    const back = await importPrivateKeyPackage(JSON.parse(JSON.stringify(exported)));
    assert.equal(back.ref, kp.private.ref);
    assert.deepEqual(exportPrivateKeyPackage(back), exported);
    await assert.rejects(
      importPrivateKeyPackage({ ...exported, suite: supportedCiphersuites[1] }),
      KeyImportError,
    );
    await assert.rejects(
      importPrivateKeyPackage({ ...exported, publicKeyPackage: 'AAAA' }),
      KeyImportError,
    );

    const store = createMemoryKeyPackageStore([back]);
    assert.equal((await store.find(back.ref))?.ref, back.ref);
    await store.consume(back.ref);
    assert.equal(await store.find(back.ref), undefined);
  });
});
