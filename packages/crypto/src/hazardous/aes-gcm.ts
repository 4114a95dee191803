/**
 * AES-256-GCM over raw key bytes, via WebCrypto. Used for attachments, whose
 * key travels inside an (MLS-encrypted) message and so must exist as bytes.
 */
import { webCrypto } from '../digest.ts';

export const AES_256_KEY_BYTES = 32;
export const GCM_NONCE_BYTES = 12;

function checkSizes(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== AES_256_KEY_BYTES)
    throw new RangeError(`AES-256 key must be 32 bytes, got ${key.length}`);
  if (nonce.length !== GCM_NONCE_BYTES)
    throw new RangeError(`GCM nonce must be 12 bytes, got ${nonce.length}`);
}

type AesKey = Awaited<ReturnType<ReturnType<typeof webCrypto>['importKey']>>;

async function importKey(key: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<AesKey> {
  return webCrypto().importKey('raw', new Uint8Array(key), 'AES-GCM', false, [usage]);
}

/**
 * Must hold: `key` is 32 uniformly random bytes, and the (key, nonce) pair is
 * never used for a second plaintext — GCM leaks the authentication key and
 * the XOR of plaintexts on nonce reuse. Attachments use a fresh key per blob,
 * which makes this trivially true.
 */
export async function aesGcmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  checkSizes(key, nonce);
  const k = await importKey(key, 'encrypt');
  return new Uint8Array(
    await webCrypto().encrypt(
      { name: 'AES-GCM', iv: new Uint8Array(nonce), tagLength: 128 },
      k,
      new Uint8Array(plaintext),
    ),
  );
}

/**
 * Must hold: the caller treats any throw as "tampered or wrong key" and uses
 * no part of the output on failure. Throws (never returns null) on a bad tag.
 */
export async function aesGcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  checkSizes(key, nonce);
  const k = await importKey(key, 'decrypt');
  return new Uint8Array(
    await webCrypto().decrypt(
      { name: 'AES-GCM', iv: new Uint8Array(nonce), tagLength: 128 },
      k,
      new Uint8Array(ciphertext),
    ),
  );
}

/** Must hold: used only for keys and nonces, never where a counter is required. */
export function randomBytes(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}
