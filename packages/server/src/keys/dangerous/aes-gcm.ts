/**
 * HAZARDOUS: raw AES-256-GCM. Only the key hierarchy and the field-encryption
 * helper call this; domain code uses those instead.
 *
 * Must hold for every caller:
 * - the key is 32 bytes and used for one purpose only (derive it with HKDF);
 * - nonces are 96-bit random: at most 2^32 messages per key (NIST SP 800-38D §8.3);
 * - the AAD binds the ciphertext to where it lives, so a ciphertext moved
 *   elsewhere fails to open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Thrown when a ciphertext fails authentication: wrong key, wrong AAD or tampering. */
export class DecryptionError extends Error {
  override name = 'DecryptionError';
}

/** Returns nonce ‖ ciphertext ‖ tag. */
export function sealAesGcm(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  assertKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Opens what sealAesGcm made; throws DecryptionError (never returns null) on any failure. */
export function openAesGcm(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  assertKey(key);
  if (sealed.byteLength < NONCE_BYTES + TAG_BYTES) {
    throw new DecryptionError('ciphertext is too short');
  }
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = buf.subarray(0, NONCE_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  const body = buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new DecryptionError('ciphertext failed authentication');
  }
}

function assertKey(key: Uint8Array): void {
  if (key.byteLength !== 32) throw new RangeError('AES-256-GCM needs a 32-byte key');
}
