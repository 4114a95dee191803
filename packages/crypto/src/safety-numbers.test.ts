import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compareQrPayload,
  SafetyNumberError,
  safetyNumber,
  safetyNumberQrPayload,
} from './index.ts';
import {
  combineDigits,
  displayDigits,
  partyFingerprint,
  scannablePayload,
} from './safety-numbers.ts';

const hex = (s: string) => new Uint8Array(s.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? []);
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const utf8 = (s: string) => new TextEncoder().encode(s);

// Published vectors: libsignal rust/protocol/src/fingerprint.rs (fingerprint_test_v1),
// the same as NumericFingerprintGeneratorTest.testVectorsVersion1 in libsignal-protocol-java.
const SIGNAL = {
  aliceKey: hex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868'),
  bobKey: hex('05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b'),
  aliceId: '+14152222222',
  bobId: '+14153333333',
  display: '300354477692869396892869876765458257569162576843440918079131',
  aliceScannable:
    '080112220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df1a220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d',
  bobScannable:
    '080112220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d1a220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df',
};

const key = (seed: number) => Uint8Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 7) & 0xff);
const alice = { userId: 'a0a0a0a0-0000-4000-8000-000000000001', keys: [key(1), key(2)] };
const bob = { userId: 'b0b0b0b0-0000-4000-8000-000000000002', keys: [key(3)] };

describe('safety numbers', () => {
  test("Signal's published v1 vectors (5200 iterations)", async () => {
    const [a, b] = await Promise.all([
      partyFingerprint(5200, utf8(SIGNAL.aliceId), SIGNAL.aliceKey),
      partyFingerprint(5200, utf8(SIGNAL.bobId), SIGNAL.bobKey),
    ]);
    assert.equal(combineDigits(displayDigits(a), displayDigits(b)), SIGNAL.display);
    assert.equal(combineDigits(displayDigits(b), displayDigits(a)), SIGNAL.display);
    assert.equal(toHex(scannablePayload(1, a, b)), SIGNAL.aliceScannable);
    assert.equal(toHex(scannablePayload(1, b, a)), SIGNAL.bobScannable);
  });

  test('pinned Bulwark vector (computed once with this implementation)', async () => {
    assert.equal(await safetyNumber(alice, bob), PINNED);
  });

  test('symmetric, 12 groups of 5 digits, independent of key order', async () => {
    const [ab, ba, reordered, duplicated] = await Promise.all([
      safetyNumber(alice, bob),
      safetyNumber(bob, alice),
      safetyNumber({ ...alice, keys: [...alice.keys].reverse() }, bob),
      safetyNumber({ ...alice, keys: [...alice.keys, key(1)] }, bob),
    ]);
    assert.match(ab, /^(\d{5} ){11}\d{5}$/);
    assert.equal(ba, ab);
    assert.equal(reordered, ab);
    assert.equal(duplicated, ab, 'duplicates ignored');
  });

  test('changes when a key changes, a device is added or lost, or an id differs', async () => {
    const ab = await safetyNumber(alice, bob);
    const variants = [
      { ...bob, keys: [key(4)] },
      { ...bob, keys: [key(3), key(5)] },
      { ...bob, userId: 'b0b0b0b0-0000-4000-8000-000000000003' },
    ];
    const changed = await Promise.all([
      ...variants.map((v) => safetyNumber(alice, v)),
      safetyNumber({ ...alice, keys: [key(1)] }, bob),
    ]);
    for (const c of changed) assert.notEqual(c, ab);
    await assert.rejects(safetyNumber({ ...alice, keys: [] }, bob), RangeError);
  });

  test('QR payload: the other side scans it and it matches; a swapped key does not', async () => {
    const shownByBob = await safetyNumberQrPayload(bob, alice);
    assert.equal(shownByBob.length, 74);
    assert.equal(await compareQrPayload(shownByBob, alice, bob), true);
    // Scanning your own code, or a code made with a different key for Bob, fails.
    const [own, mitm] = await Promise.all([
      safetyNumberQrPayload(alice, bob),
      safetyNumberQrPayload({ ...bob, keys: [key(9)] }, alice),
    ]);
    assert.equal(await compareQrPayload(own, alice, bob), false);
    assert.equal(await compareQrPayload(mitm, alice, bob), false);
    await assert.rejects(compareQrPayload(shownByBob.subarray(1), alice, bob), SafetyNumberError);
    const v2 = shownByBob.slice();
    v2[1] = 2;
    await assert.rejects(compareQrPayload(v2, alice, bob), /version 2/);
  });
});

const PINNED = '45074 11520 23211 85677 57921 42380 89703 85402 16087 32950 28305 31848';
