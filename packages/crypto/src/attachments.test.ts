import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AttachmentError,
  attachmentBody,
  createContent,
  decodeContent,
  decryptAttachment,
  encodeContent,
  encryptAttachment,
} from './index.ts';

const plaintext = new TextEncoder().encode('quarterly numbers, do not share');

describe('attachments', () => {
  test('round-trip, with the key material carried in a message body', async () => {
    const enc = await encryptAttachment(plaintext);
    assert.equal(enc.key.length, 32);
    assert.equal(enc.nonce.length, 12);
    assert.equal(enc.ciphertext.length, plaintext.length + 16, 'GCM adds a 16-byte tag');
    assert.match(enc.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(await decryptAttachment(enc), plaintext);

    const body = attachmentBody(
      { name: 'q.txt', mediaType: 'text/plain', blobId: 'b1' },
      enc,
      plaintext.length,
    );
    const received = decodeContent(encodeContent(createContent(body))).body;
    assert.ok(received.kind === 'attachment');
    assert.deepEqual(
      await decryptAttachment({ ciphertext: enc.ciphertext, ...received }),
      plaintext,
    );
  });

  test('fresh key and nonce every time', async () => {
    const [a, b] = [await encryptAttachment(plaintext), await encryptAttachment(plaintext)];
    assert.notDeepEqual(a.key, b.key);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
  });

  test('tampering is detected: by the hash, and by GCM when the hash is forged too', async () => {
    const enc = await encryptAttachment(plaintext);
    for (let i = 0; i < enc.ciphertext.length; i++) {
      const ciphertext = enc.ciphertext.slice();
      ciphertext[i] = (ciphertext[i] ?? 0) ^ 0x80;
      await assert.rejects(
        decryptAttachment({ ...enc, ciphertext }),
        (e: unknown) => e instanceof AttachmentError && /SHA-256/.test(e.message),
      );
      const sha256 = Buffer.from(await crypto.subtle.digest('SHA-256', ciphertext)).toString('hex');
      await assert.rejects(
        decryptAttachment({ ...enc, ciphertext, sha256 }),
        (e: unknown) => e instanceof AttachmentError && /decrypt/.test(e.message),
      );
    }
    const other = await encryptAttachment(plaintext);
    await assert.rejects(decryptAttachment({ ...enc, key: other.key }), AttachmentError);
    await assert.rejects(decryptAttachment({ ...enc, nonce: 'not base64!' }), AttachmentError);
    await assert.rejects(
      decryptAttachment({ ...enc, ciphertext: enc.ciphertext.subarray(0, 10) }),
      AttachmentError,
    );
  });
});
