/**
 * The offline store's key hierarchy, on WebCrypto only (no home-made
 * primitive):
 *
 *   passkey PRF output (32 bytes) ──HKDF-SHA-256(salt, info=user+credential)──┐
 *   offline passphrase ──PBKDF2-SHA-256(≥600,000 iterations, random salt)─────┤
 *                                                                 KEK (AES-256-GCM, wrap only)
 *     one wrapping per credential (and at most one passphrase wrapping) of:  │
 *       DEK      AES-256-GCM, random: seals every record                     │
 *       name key HMAC-SHA-256, random: turns record names into opaque ids ◄──┘
 *
 * Every ciphertext carries a fresh 96-bit IV and additional data naming what
 * it is and where it belongs (user, wrapping id, record name), so nothing can
 * be moved to another place and still open.
 */
import { VaultCorruptError } from './errors.ts';

/** OWASP's 2023 floor for PBKDF2-HMAC-SHA-256. */
export const PBKDF2_ITERATIONS = 600_000;
export const MIN_PASSPHRASE_LENGTH = 12;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (text: string): Uint8Array<ArrayBuffer> => encoder.encode(text);
export const fromUtf8 = (bytes: Uint8Array): string => decoder.decode(bytes);

export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** The two random keys of one store. */
export interface VaultKeys {
  dek: CryptoKey;
  nameKey: CryptoKey;
}

/** Both keys, each wrapped with AES-GCM under a KEK. */
export interface WrappedKeys {
  dekIv: Uint8Array<ArrayBuffer>;
  dek: Uint8Array<ArrayBuffer>;
  nameKeyIv: Uint8Array<ArrayBuffer>;
  nameKey: Uint8Array<ArrayBuffer>;
}

const dekAlgorithm = { name: 'AES-GCM', length: 256 } as const;
const nameKeyAlgorithm = { name: 'HMAC', hash: 'SHA-256', length: 256 } as const;

/**
 * Fresh keys for a new store. Extractable only so they can be wrapped right
 * away; the caller drops them and keeps the non-extractable copies that
 * `unwrapVaultKeys(…, false)` gives.
 */
export async function generateVaultKeys(): Promise<VaultKeys> {
  const [dek, nameKey] = await Promise.all([
    crypto.subtle.generateKey(dekAlgorithm, true, ['encrypt', 'decrypt']),
    crypto.subtle.generateKey(nameKeyAlgorithm, true, ['sign']),
  ]);
  return { dek, nameKey };
}

/** `context` names the user and the wrapping; it is bound as additional data. */
export async function wrapVaultKeys(
  keys: VaultKeys,
  kek: CryptoKey,
  context: string,
): Promise<WrappedKeys> {
  const dekIv = randomBytes(12);
  const nameKeyIv = randomBytes(12);
  const [dek, nameKey] = await Promise.all([
    crypto.subtle.wrapKey('raw', keys.dek, kek, {
      name: 'AES-GCM',
      iv: dekIv,
      additionalData: utf8(`${context}\0dek`),
    }),
    crypto.subtle.wrapKey('raw', keys.nameKey, kek, {
      name: 'AES-GCM',
      iv: nameKeyIv,
      additionalData: utf8(`${context}\0name-key`),
    }),
  ]);
  return { dekIv, dek: new Uint8Array(dek), nameKeyIv, nameKey: new Uint8Array(nameKey) };
}

/** Throws (OperationError) when the KEK or the context is not the one that wrapped them. */
export async function unwrapVaultKeys(
  wrapped: WrappedKeys,
  kek: CryptoKey,
  context: string,
  extractable: boolean,
): Promise<VaultKeys> {
  const [dek, nameKey] = await Promise.all([
    crypto.subtle.unwrapKey(
      'raw',
      wrapped.dek,
      kek,
      { name: 'AES-GCM', iv: wrapped.dekIv, additionalData: utf8(`${context}\0dek`) },
      dekAlgorithm,
      extractable,
      ['encrypt', 'decrypt'],
    ),
    crypto.subtle.unwrapKey(
      'raw',
      wrapped.nameKey,
      kek,
      { name: 'AES-GCM', iv: wrapped.nameKeyIv, additionalData: utf8(`${context}\0name-key`) },
      nameKeyAlgorithm,
      extractable,
      ['sign'],
    ),
  ]);
  return { dek, nameKey };
}

const kekAlgorithm = { name: 'AES-GCM', length: 256 } as const;

/**
 * The KEK of one passkey: HKDF over its PRF output. The info binds the user
 * and the credential, so one PRF output can never open another user's store
 * or stand in for another credential's wrapping.
 */
export async function kekFromPrf(
  prfSecret: Uint8Array,
  salt: Uint8Array<ArrayBuffer>,
  userId: string,
  credentialId: string,
): Promise<CryptoKey> {
  if (prfSecret.byteLength < 16) throw new Error('The passkey gave too short a PRF output.');
  const copy = new Uint8Array(prfSecret);
  try {
    const ikm = await crypto.subtle.importKey('raw', copy, 'HKDF', false, ['deriveKey']);
    return await crypto.subtle.deriveKey(
      {
        name: 'HKDF',
        hash: 'SHA-256',
        salt,
        info: utf8(`bulwark offline vault v1 kek\0prf\0user:${userId}\0credential:${credentialId}`),
      },
      ikm,
      kekAlgorithm,
      false,
      ['wrapKey', 'unwrapKey'],
    );
  } finally {
    copy.fill(0);
  }
}

/** The KEK of an offline passphrase (NFC-normalised so the same words type the same key). */
export async function kekFromPassphrase(
  passphrase: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<CryptoKey> {
  if (!Number.isSafeInteger(iterations) || iterations < PBKDF2_ITERATIONS)
    throw new Error('The offline passphrase wrapping uses too few PBKDF2 iterations.');
  const secret = utf8(passphrase.normalize('NFC'));
  try {
    const base = await crypto.subtle.importKey('raw', secret, 'PBKDF2', false, ['deriveKey']);
    return await crypto.subtle.deriveKey(
      { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
      base,
      kekAlgorithm,
      false,
      ['wrapKey', 'unwrapKey'],
    );
  } finally {
    secret.fill(0);
  }
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The opaque id a name is stored under: HMAC-SHA-256 under the store's name
 * key, so record names (which may hold ids) are not readable in IndexedDB,
 * and the same name always finds the same row.
 */
export async function opaqueId(
  nameKey: CryptoKey,
  purpose: 'record' | 'namespace',
  name: string,
): Promise<string> {
  return hex(await crypto.subtle.sign('HMAC', nameKey, utf8(`${purpose}\0${name}`)));
}

export interface Sealed {
  iv: Uint8Array<ArrayBuffer>;
  data: Uint8Array<ArrayBuffer>;
}

export async function seal(dek: CryptoKey, aad: string, plaintext: Uint8Array): Promise<Sealed> {
  const iv = randomBytes(12);
  const data = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: utf8(aad) },
    dek,
    new Uint8Array(plaintext),
  );
  return { iv, data: new Uint8Array(data) };
}

/** Throws VaultCorruptError on a bad tag — never returns something half-trusted. */
export async function open(
  dek: CryptoKey,
  aad: string,
  sealed: { iv: Uint8Array; data: Uint8Array },
  what: string,
): Promise<Uint8Array> {
  if (!(sealed.iv instanceof Uint8Array) || !(sealed.data instanceof Uint8Array))
    throw new VaultCorruptError(what);
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: new Uint8Array(sealed.iv), additionalData: utf8(aad) },
      dek,
      new Uint8Array(sealed.data),
    );
    return new Uint8Array(plaintext);
  } catch (error) {
    throw new VaultCorruptError(what, { cause: error });
  }
}
