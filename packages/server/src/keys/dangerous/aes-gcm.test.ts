import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DecryptionError, openAesGcm, sealAesGcm } from './aes-gcm.ts';

const NONCE = 12;
const TAG = 16;
const key = randomBytes(32);
const aad = Buffer.from('bulwark-test:aad', 'utf8');
const plaintext = Buffer.from('attack at dawn, bring 20 bytes', 'utf8');

function assertFails(fn: () => unknown, label: string): void {
  assert.throws(
    fn,
    (err) => err instanceof DecryptionError && err.name === 'DecryptionError',
    label,
  );
}

describe('AES-256-GCM', () => {
  it('round-trips, with the layout nonce ‖ ciphertext ‖ tag', () => {
    const sealed = sealAesGcm(key, plaintext, aad);
    assert.equal(sealed.byteLength, NONCE + plaintext.byteLength + TAG);
    assert.ok(!sealed.includes(plaintext), 'the plaintext is not in the output');
    assert.deepEqual(openAesGcm(key, sealed, aad), plaintext);
  });

  it('round-trips an empty plaintext and an empty AAD', () => {
    const sealed = sealAesGcm(key, Buffer.alloc(0), Buffer.alloc(0));
    assert.equal(sealed.byteLength, NONCE + TAG);
    assert.deepEqual(openAesGcm(key, sealed, Buffer.alloc(0)), Buffer.alloc(0));
  });

  it('opens a ciphertext that is a view into a larger buffer', () => {
    const sealed = sealAesGcm(key, plaintext, aad);
    const big = Buffer.concat([Buffer.from('prefix-junk'), sealed, Buffer.from('suffix')]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 11, sealed.byteLength);
    assert.deepEqual(openAesGcm(key, view, aad), plaintext);
  });

  it('fails on a flip of any single byte of nonce, ciphertext or tag', () => {
    const sealed = sealAesGcm(key, plaintext, aad);
    for (let i = 0; i < sealed.byteLength; i++) {
      const part = i < NONCE ? 'nonce' : i < sealed.byteLength - TAG ? 'ciphertext' : 'tag';
      for (const mask of [0x01, 0x80]) {
        const tampered = Buffer.from(sealed);
        tampered[i] = (tampered[i] ?? 0) ^ mask;
        assertFails(() => openAesGcm(key, tampered, aad), `${part} byte ${i} ^ ${mask}`);
      }
    }
    assert.deepEqual(openAesGcm(key, sealed, aad), plaintext, 'the original is untouched');
  });

  it('fails when bytes are removed or appended', () => {
    const sealed = sealAesGcm(key, plaintext, aad);
    assertFails(() => openAesGcm(key, sealed.subarray(0, sealed.length - 1), aad), 'short tag');
    assertFails(() => openAesGcm(key, sealed.subarray(1), aad), 'dropped first byte');
    assertFails(() => openAesGcm(key, Buffer.concat([sealed, Buffer.from([0])]), aad), 'appended');
  });

  it('fails with the wrong AAD', () => {
    const sealed = sealAesGcm(key, plaintext, aad);
    assertFails(() => openAesGcm(key, sealed, Buffer.from('bulwark-test:aaD')), 'changed AAD');
    assertFails(() => openAesGcm(key, sealed, Buffer.alloc(0)), 'empty AAD');
    assertFails(() => openAesGcm(key, sealed, Buffer.concat([aad, Buffer.from([0])])), 'longer');
    const noAad = sealAesGcm(key, plaintext, Buffer.alloc(0));
    assertFails(() => openAesGcm(key, noAad, aad), 'AAD given where none was bound');
  });

  it('fails with the wrong key', () => {
    const sealed = sealAesGcm(key, plaintext, aad);
    assertFails(() => openAesGcm(randomBytes(32), sealed, aad), 'random key');
    const nearKey = Buffer.from(key);
    nearKey[31] = (nearKey[31] ?? 0) ^ 1;
    assertFails(() => openAesGcm(nearKey, sealed, aad), 'one bit off');
  });

  it('fails on input shorter than nonce + tag', () => {
    for (const length of [0, 1, NONCE, NONCE + TAG - 1]) {
      assertFails(() => openAesGcm(key, randomBytes(length), aad), `${length} bytes`);
    }
    assertFails(() => openAesGcm(key, randomBytes(NONCE + TAG), aad), 'random 28 bytes');
  });

  it('uses a fresh random nonce for each seal', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const sealed = sealAesGcm(key, plaintext, aad);
      seen.add(sealed.subarray(0, NONCE).toString('hex'));
    }
    assert.equal(seen.size, 64);
    const a = sealAesGcm(key, plaintext, aad);
    const b = sealAesGcm(key, plaintext, aad);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a.subarray(NONCE), b.subarray(NONCE));
  });

  it('refuses keys that are not 32 bytes, both ways', () => {
    const sealed = sealAesGcm(key, plaintext, aad);
    for (const length of [0, 16, 24, 31, 33]) {
      assert.throws(() => sealAesGcm(Buffer.alloc(length), plaintext, aad), RangeError);
      assert.throws(() => openAesGcm(Buffer.alloc(length), sealed, aad), RangeError);
    }
  });
});
