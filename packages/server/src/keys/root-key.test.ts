import assert from 'node:assert/strict';
import { createHmac, hkdfSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { type KeyPurpose, keyPurposes, PurposeKey, RootKey } from './root-key.ts';

const INSTALLATION = 'bwk_0123456789abcdefghij';
/** 0x00 0x01 … 0x1f: a fixed root so derived keys can be pinned. */
const FIXED_ROOT = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const purposes = Object.keys(keyPurposes) as KeyPurpose[];

/** RFC 5869 HKDF-SHA256 for one output block, written with HMAC only (independent of hkdfSync). */
function rfc5869Sha256(ikm: Buffer, salt: Buffer, info: Buffer): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  return createHmac('sha256', prk)
    .update(Buffer.concat([info, Buffer.from([1])]))
    .digest();
}

describe('RootKey', () => {
  it('derives a 32-byte key for every purpose', () => {
    const root = RootKey.generate(INSTALLATION);
    for (const purpose of purposes) {
      const key = root.derive(purpose);
      assert.ok(key instanceof PurposeKey);
      assert.equal(key.purpose, purpose);
      assert.equal(key.bytes().byteLength, 32);
    }
  });

  it('derives a distinct key per purpose', () => {
    const root = RootKey.generate(INSTALLATION);
    const hexes = purposes.map((p) => root.derive(p).bytes().toString('hex'));
    assert.equal(new Set(hexes).size, purposes.length);
    assert.ok(!hexes.includes(FIXED_ROOT.toString('hex')));
  });

  it('gives distinct HKDF info strings per purpose, pinned (changing one orphans existing data)', () => {
    assert.deepEqual(keyPurposes, {
      database: 'bulwark/v1/database-page-key',
      fieldEncryption: 'bulwark/v1/field-encryption',
      blindIndex: 'bulwark/v1/blind-index',
      ledgerSigning: 'bulwark/v1/ledger-signing-seed',
      sessionMac: 'bulwark/v1/session-mac',
      tlsCaKey: 'bulwark/v1/tls-ca-key',
      storageCheck: 'bulwark/v1/storage-check',
    });
  });

  it('derives distinct keys for the same root bytes under another installation id', () => {
    const a = new RootKey(FIXED_ROOT, INSTALLATION);
    const b = new RootKey(FIXED_ROOT, 'bwk_zzzzzzzzzzzzzzzzzzzz');
    for (const purpose of purposes) {
      assert.notDeepEqual(a.derive(purpose).bytes(), b.derive(purpose).bytes(), purpose);
    }
  });

  it('is deterministic for the same root and installation', () => {
    const a = new RootKey(FIXED_ROOT, INSTALLATION);
    const b = new RootKey(Buffer.from(FIXED_ROOT), INSTALLATION);
    for (const purpose of purposes) {
      assert.deepEqual(a.derive(purpose).bytes(), b.derive(purpose).bytes(), purpose);
      assert.deepEqual(a.derive(purpose).bytes(), a.derive(purpose).bytes(), purpose);
    }
  });

  it('generates a different root each time', () => {
    const a = RootKey.generate(INSTALLATION);
    const b = RootKey.generate(INSTALLATION);
    assert.notDeepEqual(a.exposeForWrapping(), b.exposeForWrapping());
    assert.notDeepEqual(a.exposeForWrapping(), Buffer.alloc(32));
  });

  it('matches HKDF-SHA256(root, salt = installation id, info = purpose) computed independently', () => {
    const root = new RootKey(FIXED_ROOT, INSTALLATION);
    const derived = root.derive('database').bytes();
    const salt = Buffer.from(INSTALLATION, 'utf8');
    const info = Buffer.from('bulwark/v1/database-page-key', 'utf8');
    assert.deepEqual(derived, Buffer.from(hkdfSync('sha256', FIXED_ROOT, salt, info, 32)));
    assert.deepEqual(derived, rfc5869Sha256(FIXED_ROOT, salt, info));
    // Known answer, computed once with the HMAC-only implementation above.
    assert.equal(
      derived.toString('hex'),
      '9fd9a5925a5d3c30a6337b35db83451a40945212414ec9adf8c1e7a171dbfd36',
    );
  });

  it('copies the input bytes, so later changes to the caller buffer do not change the key', () => {
    const input = Buffer.from(FIXED_ROOT);
    const root = new RootKey(input, INSTALLATION);
    const before = root.derive('database').bytes().toString('hex');
    input.fill(0xff);
    assert.equal(root.derive('database').bytes().toString('hex'), before);
  });

  it('rejects a root that is not 32 bytes', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(
        () => new RootKey(new Uint8Array(length), INSTALLATION),
        RangeError,
        `${length}`,
      );
    }
  });

  it('zeroes its bytes on wipe() and refuses any later use', () => {
    const root = new RootKey(FIXED_ROOT, INSTALLATION);
    const held = root.exposeForWrapping();
    assert.equal(root.wiped, false);
    root.wipe();
    assert.equal(root.wiped, true);
    assert.deepEqual(held, Buffer.alloc(32), 'the buffer the key lived in is zeroed');
    assert.throws(() => root.derive('database'), /wiped/);
    assert.throws(() => root.exposeForWrapping(), /wiped/);
    root.wipe(); // idempotent
    assert.equal(root.wiped, true);
  });

  it('keeps derived keys independent of the root wipe, and zeroes them on their own wipe()', () => {
    const root = new RootKey(FIXED_ROOT, INSTALLATION);
    const key = root.derive('fieldEncryption');
    const expected = Buffer.from(key.bytes());
    root.wipe();
    assert.deepEqual(key.bytes(), expected);
    const held = key.bytes();
    key.wipe();
    assert.deepEqual(held, Buffer.alloc(32));
    assert.throws(() => key.bytes(), /fieldEncryption key was wiped/);
  });
});
