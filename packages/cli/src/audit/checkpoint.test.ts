import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { CheckpointError, parseCheckpoint, verifyCheckpointNote } from './checkpoint.ts';

const origin = 'bulwark/bwk_test';
const root = Buffer.alloc(32, 0xab).toString('base64');

/** A C2SP Ed25519 note key whose base64 holds a "+" (as real keys often do). */
function keyWithPlus(): { privateKey: KeyObject; verifierKey: string; keyId: Buffer } {
  for (;;) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const encoded = Buffer.concat([Buffer.of(0x01), raw]);
    const keyId = createHash('sha256')
      .update(`${origin}\n`)
      .update(encoded)
      .digest()
      .subarray(0, 4);
    const b64 = encoded.toString('base64');
    if (b64.includes('+')) {
      return { privateKey, keyId, verifierKey: `${origin}+${keyId.toString('hex')}+${b64}` };
    }
  }
}

function note(text: string, key: ReturnType<typeof keyWithPlus>): string {
  const sig = sign(null, Buffer.from(text, 'utf8'), key.privateKey);
  return `${text}\n\u2014 ${origin} ${Buffer.concat([key.keyId, sig]).toString('base64')}\n`;
}

describe('checkpoint notes', () => {
  const key = keyWithPlus();
  const text = `${origin}\n5\n${root}\n`;

  it('parses and verifies a signed checkpoint', () => {
    const checkpoint = verifyCheckpointNote(note(text, key), key.verifierKey);
    assert.equal(checkpoint.origin, origin);
    assert.equal(checkpoint.size, 5);
    assert.equal(Buffer.from(checkpoint.rootHash).toString('base64'), root);
  });

  it('rejects a changed size or root, another key, and a malformed note', () => {
    const signed = note(text, key);
    assert.throws(
      () => verifyCheckpointNote(signed.replace('\n5\n', '\n6\n'), key.verifierKey),
      CheckpointError,
    );
    const otherRoot = Buffer.alloc(32, 0xcd).toString('base64');
    assert.throws(
      () => verifyCheckpointNote(signed.replace(root, otherRoot), key.verifierKey),
      CheckpointError,
    );
    assert.throws(() => verifyCheckpointNote(signed, keyWithPlus().verifierKey), CheckpointError);
    assert.throws(() => parseCheckpoint(text), CheckpointError, 'no signature block');
    assert.throws(() => parseCheckpoint(`${origin}\n05\n${root}\n\n`), CheckpointError);
  });
});
