/**
 * Attachment blobs: encrypted on the device under a fresh AES-256-GCM key,
 * uploaded to the server as opaque bytes; the key, nonce and hash travel in
 * the (MLS-encrypted) message that refers to the blob.
 */
import type { AttachmentBody } from './content.ts';
import { sha256 } from './digest.ts';
import { fromBase64Url, toBase64Url, toHex } from './encoding.ts';
import { AttachmentError } from './errors.ts';
import {
  AES_256_KEY_BYTES,
  aesGcmDecrypt,
  aesGcmEncrypt,
  GCM_NONCE_BYTES,
  randomBytes,
} from './hazardous/aes-gcm.ts';

export interface EncryptedAttachment {
  readonly ciphertext: Uint8Array;
  /** Raw 32-byte key. Secret. */
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  /** Lowercase hex SHA-256 of `ciphertext`: lets anyone check a blob before decrypting. */
  readonly sha256: string;
}

export async function encryptAttachment(plaintext: Uint8Array): Promise<EncryptedAttachment> {
  // A fresh key per blob makes GCM nonce reuse impossible (see hazardous/aes-gcm.ts).
  const key = randomBytes(AES_256_KEY_BYTES);
  const nonce = randomBytes(GCM_NONCE_BYTES);
  const ciphertext = await aesGcmEncrypt(key, nonce, plaintext);
  return { ciphertext, key, nonce, sha256: toHex(await sha256(ciphertext)) };
}

export interface AttachmentSecrets {
  readonly ciphertext: Uint8Array;
  /** Raw bytes, or base64url as carried in an attachment message body. */
  readonly key: Uint8Array | string;
  readonly nonce: Uint8Array | string;
  readonly sha256: string;
}

const bytesOf = (v: Uint8Array | string): Uint8Array =>
  typeof v === 'string' ? fromBase64Url(v) : v;

/**
 * Checks the blob's hash, then decrypts. Throws AttachmentError if either
 * fails: a swapped or altered blob never yields plaintext.
 */
export async function decryptAttachment(args: AttachmentSecrets): Promise<Uint8Array> {
  const actual = toHex(await sha256(args.ciphertext));
  if (actual !== args.sha256.toLowerCase()) {
    throw new AttachmentError('attachment does not match its SHA-256: it was altered or swapped');
  }
  let key: Uint8Array;
  let nonce: Uint8Array;
  try {
    key = bytesOf(args.key);
    nonce = bytesOf(args.nonce);
  } catch (cause) {
    throw new AttachmentError('attachment key or nonce is not valid base64url', { cause });
  }
  try {
    return await aesGcmDecrypt(key, nonce, args.ciphertext);
  } catch (cause) {
    throw new AttachmentError('attachment does not decrypt with its key (tampered or wrong key)', {
      cause,
    });
  }
}

/** The message body announcing an uploaded attachment. */
export function attachmentBody(
  meta: {
    readonly name: string;
    readonly mediaType: string;
    readonly blobId: string;
    readonly text?: string;
  },
  encrypted: EncryptedAttachment,
  plaintextSize: number,
): AttachmentBody {
  const body: AttachmentBody = {
    kind: 'attachment',
    name: meta.name,
    mediaType: meta.mediaType,
    size: plaintextSize,
    sha256: encrypted.sha256,
    key: toBase64Url(encrypted.key),
    nonce: toBase64Url(encrypted.nonce),
    blobId: meta.blobId,
  };
  return meta.text === undefined ? body : { ...body, text: meta.text };
}
