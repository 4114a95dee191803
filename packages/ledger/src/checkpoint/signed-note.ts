/**
 * C2SP signed notes (https://c2sp.org/signed-note, the format of
 * golang.org/x/mod/sumdb/note), Ed25519 only (signature type 0x01).
 *
 *     <text, ending in "\n">
 *     "\n"
 *     "— " <key name> " " base64(uint32be key ID ‖ signature) "\n"   (one or more)
 *
 * key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]
 * verifier key = <name> "+" <hex key ID> "+" base64(0x01 ‖ public key)
 *
 * The format lives in note.ts (no Node API: browsers use it too); this
 * module adds the Ed25519 signer and verifier.
 *
 * Ed25519 is node:crypto's (OpenSSL): no extra dependency, constant-time
 * signing, RFC 8032 verification with the canonical-S check, and a private
 * key object built straight from the 32-byte HKDF-derived seed.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import {
  assertName,
  ed25519KeyHash,
  formatVerifierKey,
  NoteError,
  type NoteSigner,
  type NoteVerifier,
  parseVerifierKey,
} from './note.ts';

export * from './note.ts';

// RFC 8410 DER prefixes: PKCS#8 for a 32-byte Ed25519 seed, SPKI for a public key.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
}

/** Signs with an Ed25519 key built from a 32-byte seed (the HKDF-derived ledger seed). */
export class Ed25519NoteSigner implements NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;

  constructor(name: string, seed: Uint8Array) {
    assertName(name);
    if (seed.byteLength !== 32) throw new NoteError('an Ed25519 seed is 32 bytes');
    this.#key = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const spki = createPublicKey(this.#key).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
    this.name = name;
    this.keyHash = ed25519KeyHash(name, this.publicKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(cryptoSign(null, message, this.#key));
  }

  verifier(): Ed25519NoteVerifier {
    return new Ed25519NoteVerifier(this.name, this.publicKey);
  }

  /** The verifier key to hand to clients and witnesses. */
  verifierKey(): string {
    return formatVerifierKey(this.name, this.publicKey);
  }
}

export class Ed25519NoteVerifier implements NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;

  constructor(name: string, publicKey: Uint8Array) {
    assertName(name);
    if (publicKey.byteLength !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
    this.name = name;
    this.publicKey = new Uint8Array(publicKey);
    this.keyHash = ed25519KeyHash(name, this.publicKey);
    this.#key = ed25519PublicKeyObject(this.publicKey);
  }

  static fromVerifierKey(vkey: string): Ed25519NoteVerifier {
    const parsed = parseVerifierKey(vkey);
    return new Ed25519NoteVerifier(parsed.name, parsed.publicKey);
  }

  verify(message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.byteLength !== 64) return false;
    try {
      return cryptoVerify(null, message, this.#key, signature);
    } catch {
      return false;
    }
  }
}
