/**
 * C2SP signed notes (https://c2sp.org/signed-note, the format of
 * golang.org/x/mod/sumdb/note), Ed25519 only (signature type 0x01): the
 * format — parsing, formatting, key IDs, verifier keys, and verification
 * against any `NoteVerifier`. No Node-specific API, so browsers bundle it
 * (the web client verifies Ed25519 with WebCrypto); the node:crypto signer
 * and verifier are in signed-note.ts.
 *
 *     <text, ending in "\n">
 *     "\n"
 *     "— " <key name> " " base64(uint32be key ID ‖ signature) "\n"   (one or more)
 *
 * key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]
 * verifier key = <name> "+" <hex key ID> "+" base64(0x01 ‖ public key)
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Signature type identifier byte for Ed25519 (signed-note §Signature types). */
export const ED25519_SIGNATURE_TYPE = 0x01;
/** The spec says verifiers MUST accept at least 16; Go's reference rejects more than 100. */
export const DEFAULT_MAX_SIGNATURES = 100;
/** Whole-note bound (UTF-8 bytes): roomy for 100 post-quantum-sized signatures. */
export const DEFAULT_MAX_NOTE_BYTES = 1024 * 1024;
/** Bound on one decoded signature (key ID + signature); ML-DSA-87 is 4627 bytes. */
export const MAX_SIGNATURE_BYTES = 8192;
/** Bound on a key name, in UTF-16 code units. */
export const MAX_KEY_NAME_LENGTH = 512;

const SIG_PREFIX = '\u2014 '; // em dash, space

export class NoteError extends Error {
  override name = 'NoteError';
}

/** A signature line, parsed but not verified. */
export interface NoteSignature {
  readonly name: string;
  /** uint32 key ID, big-endian on the wire. */
  readonly keyHash: number;
  /** The signature bytes, key ID removed. */
  readonly sig: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface VerifiedNote {
  readonly text: string;
  /** Names of the known keys whose signatures verified, in note order, once each. */
  readonly verified: readonly string[];
  /** Signatures from keys the caller did not supply (witnesses, rotated keys): ignored. */
  readonly unknown: readonly NoteSignature[];
}

export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  sign(message: Uint8Array): Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteLimits {
  readonly maxBytes?: number;
  readonly maxSignatures?: number;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Non-empty, no Unicode White_Space (Go's unicode.IsSpace), no '+', well-formed. */
export function isValidKeyName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_KEY_NAME_LENGTH &&
    name.isWellFormed() &&
    !/[\p{White_Space}+]/u.test(name) &&
    !hasControlChar(name, false)
  );
}

function hasControlChar(s: string, allowNewline: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && !(allowNewline && c === 0x0a)) return true;
  }
  return false;
}

/** UTF-8 length of a string (no Node Buffer here). */
export function utf8ByteLength(text: string): number {
  return utf8.encode(text).byteLength;
}

/** Standard base64 with padding, canonical only (decode then re-encode must match). */
export function decodeStrictBase64(b64: string): Uint8Array | null {
  if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  let binary: string;
  try {
    binary = atob(b64);
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (toBase64(bytes) !== b64) return null;
  return bytes;
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** key ID = SHA-256(name ‖ "\n" ‖ encodedKey)[:4] as a big-endian uint32; encodedKey starts with the type byte. */
export function computeKeyHash(name: string, encodedKey: Uint8Array): number {
  const digest = sha256
    .create()
    .update(utf8.encode(name))
    .update(Uint8Array.of(0x0a))
    .update(encodedKey)
    .digest();
  return new DataView(digest.buffer, digest.byteOffset, digest.byteLength).getUint32(0, false);
}

export function ed25519KeyHash(name: string, publicKey: Uint8Array): number {
  return computeKeyHash(name, encodedEd25519Key(publicKey));
}

export function encodedEd25519Key(publicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = ED25519_SIGNATURE_TYPE;
  out.set(publicKey, 1);
  return out;
}

export function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export function assertName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new NoteError('key name must be non-empty, without spaces, "+" or control characters');
  }
}

/** `<name>+<8 hex key ID>+<base64(0x01 ‖ public key)>` */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  assertName(name);
  if (publicKey.byteLength !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  const encoded = encodedEd25519Key(publicKey);
  return `${name}+${hex8(computeKeyHash(name, encoded))}+${toBase64(encoded)}`;
}

export interface VerifierKey {
  readonly name: string;
  readonly keyHash: number;
  readonly algorithm: number;
  readonly publicKey: Uint8Array;
}

/** Parses and checks a verifier key; only Ed25519 (type 0x01) is accepted. */
export function parseVerifierKey(vkey: string): VerifierKey {
  if (vkey.length > MAX_KEY_NAME_LENGTH + 128) throw new NoteError('verifier key too long');
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw new NoteError('malformed verifier key');
  const name = vkey.slice(0, first);
  const hash16 = vkey.slice(first + 1, second);
  const key64 = vkey.slice(second + 1);
  if (!isValidKeyName(name) || !/^[0-9a-fA-F]{8}$/.test(hash16)) {
    throw new NoteError('malformed verifier key');
  }
  const encoded = decodeStrictBase64(key64);
  if (encoded === null || encoded.byteLength < 2) throw new NoteError('malformed verifier key');
  const keyHash = Number.parseInt(hash16, 16);
  if (keyHash !== computeKeyHash(name, encoded)) {
    throw new NoteError('verifier key hash does not match the key');
  }
  const algorithm = encoded[0] ?? -1;
  if (algorithm !== ED25519_SIGNATURE_TYPE) {
    throw new NoteError(`unsupported verifier key algorithm ${algorithm}`);
  }
  const publicKey = encoded.slice(1);
  if (publicKey.byteLength !== 32) throw new NoteError('malformed verifier key');
  return { name, keyHash, algorithm, publicKey };
}

function formatSignatureLine(name: string, keyHash: number, sig: Uint8Array): string {
  const raw = new Uint8Array(4 + sig.byteLength);
  new DataView(raw.buffer).setUint32(0, keyHash, false);
  raw.set(sig, 4);
  return `${SIG_PREFIX}${name} ${toBase64(raw)}\n`;
}

function assertNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  if (!text.isWellFormed()) throw new NoteError('note text is not well-formed Unicode');
  if (hasControlChar(text, true)) throw new NoteError('note text contains a control character');
}

/** Signs `text` (which must end in "\n") with one or more signers, in order. */
export function signNote(text: string, signer: NoteSigner | readonly NoteSigner[]): string {
  const signers = Array.isArray(signer)
    ? (signer as readonly NoteSigner[])
    : [signer as NoteSigner];
  if (signers.length === 0) throw new NoteError('at least one signer is required');
  assertNoteText(text);
  const message = utf8.encode(text);
  let out = `${text}\n`;
  for (const s of signers) {
    assertName(s.name);
    out += formatSignatureLine(s.name, s.keyHash, s.sign(message));
  }
  return out;
}

/**
 * Adds signatures to an already signed note (a witness co-signing, a key
 * rotation). Existing signatures by the same key (name and key ID) are
 * replaced; the others are kept unchanged and in order. The existing
 * signatures are not verified here: verify first if that matters.
 */
export function addSignatures(
  noteText: string | Uint8Array,
  signer: NoteSigner | readonly NoteSigner[],
  limits: NoteLimits = {},
): string {
  const signers = Array.isArray(signer)
    ? (signer as readonly NoteSigner[])
    : [signer as NoteSigner];
  const parsed = parseNote(noteText, limits);
  const replaced = new Set(signers.map((s) => `${s.name}+${s.keyHash}`));
  const message = utf8.encode(parsed.text);
  let out = `${parsed.text}\n`;
  for (const sig of parsed.signatures) {
    if (!replaced.has(`${sig.name}+${sig.keyHash}`)) {
      out += formatSignatureLine(sig.name, sig.keyHash, sig.sig);
    }
  }
  for (const s of signers) {
    assertName(s.name);
    out += formatSignatureLine(s.name, s.keyHash, s.sign(message));
  }
  parseNote(out, limits); // the result must itself be within the limits
  return out;
}

function decodeNote(noteText: string | Uint8Array, maxBytes: number): string {
  if (typeof noteText === 'string') {
    // A UTF-16 code unit is at most 3 UTF-8 bytes; this avoids encoding huge inputs.
    if (noteText.length > maxBytes || utf8ByteLength(noteText) > maxBytes) {
      throw new NoteError('note too large');
    }
    if (!noteText.isWellFormed()) throw new NoteError('note is not well-formed Unicode');
    return noteText;
  }
  if (noteText.byteLength > maxBytes) throw new NoteError('note too large');
  try {
    return strictUtf8.decode(noteText);
  } catch {
    throw new NoteError('note is not valid UTF-8');
  }
}

/** Parses a signed note without verifying it. Throws NoteError on anything malformed. */
export function parseNote(noteText: string | Uint8Array, limits: NoteLimits = {}): ParsedNote {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_NOTE_BYTES;
  const maxSignatures = limits.maxSignatures ?? DEFAULT_MAX_SIGNATURES;
  const msg = decodeNote(noteText, maxBytes);
  if (hasControlChar(msg, true)) throw new NoteError('note contains a control character');

  // The text is separated from the signatures by the last blank line.
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('note has no signature block');
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0) throw new NoteError('note has no signatures');
  if (!block.endsWith('\n')) throw new NoteError('note must end with a newline');

  const lines = block.slice(0, -1).split('\n');
  if (lines.length > maxSignatures) throw new NoteError('note has too many signatures');
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed signature line');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) throw new NoteError('malformed signature line');
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    if (!isValidKeyName(name)) throw new NoteError('malformed signature key name');
    if (b64.length > Math.ceil((MAX_SIGNATURE_BYTES * 4) / 3) + 4) {
      throw new NoteError('signature too large');
    }
    const raw = decodeStrictBase64(b64);
    if (raw === null) throw new NoteError('malformed signature base64');
    if (raw.byteLength < 5) throw new NoteError('signature too short');
    const keyHash = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(0, false);
    signatures.push({ name, keyHash, sig: raw.slice(4) });
  }
  return { text, signatures };
}

/**
 * Verifies a signed note against known verifiers. Signatures from unknown
 * keys (name and key ID not both matching a verifier) are ignored; every
 * signature from a known key must verify, else the whole note is rejected;
 * at least one known signature is required.
 */
export function verifyNote(
  noteText: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  limits: NoteLimits = {},
): VerifiedNote {
  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const id = `${v.name}+${hex8(v.keyHash)}`;
    if (known.has(id)) throw new NoteError(`ambiguous verifier key ${id}`);
    known.set(id, v);
  }
  const parsed = parseNote(noteText, limits);
  const message = utf8.encode(parsed.text);
  const verified: string[] = [];
  const unknown: NoteSignature[] = [];
  for (const sig of parsed.signatures) {
    const id = `${sig.name}+${hex8(sig.keyHash)}`;
    const v = known.get(id);
    if (v === undefined) {
      unknown.push(sig);
      continue;
    }
    if (!v.verify(message, sig.sig)) throw new NoteError(`invalid signature for key ${id}`);
    if (!verified.includes(sig.name)) verified.push(sig.name);
  }
  if (verified.length === 0) throw new NoteError('note has no verifiable signatures');
  return { text: parsed.text, verified, unknown };
}
