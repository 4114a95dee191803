/**
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the note text of
 * a signed tree head.
 *
 *     <origin>\n
 *     <tree size, decimal, no leading zeros>\n
 *     <base64 RFC 6962 root hash>\n
 *     [<extension line>\n ...]
 */
import {
  decodeStrictBase64,
  isValidKeyName,
  type NoteLimits,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  signNote,
  toBase64,
  utf8ByteLength,
  verifyNote,
} from './note.ts';

export const ROOT_HASH_BYTES = 32;
/** Bound on the checkpoint text alone (origin, size, root and extensions). */
export const MAX_CHECKPOINT_TEXT_BYTES = 64 * 1024;
export const MAX_EXTENSION_LINES = 64;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface Checkpoint {
  readonly origin: string;
  /** Number of leaves. Limited to Number.MAX_SAFE_INTEGER. */
  readonly size: number;
  /** RFC 6962 / RFC 9162 Merkle tree root, 32 bytes. */
  readonly rootHash: Uint8Array;
  readonly extensions: readonly string[];
}

export interface CheckpointInput {
  readonly origin: string;
  readonly size: number | bigint;
  readonly rootHash: Uint8Array;
  readonly extensions?: readonly string[];
}

function isBlank(s: string): boolean {
  return /^\p{White_Space}*$/u.test(s);
}

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

function checkLine(line: string, what: string): void {
  if (!line.isWellFormed()) throw new CheckpointError(`${what} is not well-formed Unicode`);
  if (hasControlChar(line)) throw new CheckpointError(`${what} contains a control character`);
}

function checkOrigin(origin: string): void {
  if (origin.length === 0 || isBlank(origin)) {
    throw new CheckpointError('checkpoint origin must be non-empty and not only spaces');
  }
  checkLine(origin, 'checkpoint origin');
}

const SIZE_RE = /^(0|[1-9][0-9]*)$/;
const ROOT_RE = /^[A-Za-z0-9+/]{43}=$/;

function parseSize(line: string): number {
  if (!SIZE_RE.test(line)) {
    throw new CheckpointError('checkpoint size must be decimal without leading zeros');
  }
  const size = Number(line);
  if (!Number.isSafeInteger(size)) throw new CheckpointError('checkpoint size too large');
  return size;
}

function parseRoot(line: string): Uint8Array {
  if (!ROOT_RE.test(line)) {
    throw new CheckpointError('checkpoint root hash must be 32 bytes in standard base64');
  }
  // Canonical encoding only: the padding bits must be zero.
  const bytes = decodeStrictBase64(line);
  if (bytes === null || bytes.byteLength !== ROOT_HASH_BYTES) {
    throw new CheckpointError('checkpoint root hash must be 32 bytes in standard base64');
  }
  return bytes;
}

/** Formats the checkpoint note text (ends in "\n"). Validates as strictly as parseCheckpoint. */
export function formatCheckpoint(input: CheckpointInput): string {
  checkOrigin(input.origin);
  const size = typeof input.size === 'bigint' ? input.size : BigInt(checkNumberSize(input.size));
  if (size < 0n || size > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CheckpointError('checkpoint size out of range');
  }
  if (input.rootHash.byteLength !== ROOT_HASH_BYTES) {
    throw new CheckpointError('checkpoint root hash must be 32 bytes');
  }
  const extensions = input.extensions ?? [];
  if (extensions.length > MAX_EXTENSION_LINES)
    throw new CheckpointError('too many extension lines');
  for (const ext of extensions) {
    if (ext.length === 0) throw new CheckpointError('extension lines must be non-empty');
    checkLine(ext, 'extension line');
  }
  const root = toBase64(input.rootHash);
  const text = [input.origin, size.toString(10), root, ...extensions].map((l) => `${l}\n`).join('');
  if (utf8ByteLength(text) > MAX_CHECKPOINT_TEXT_BYTES) {
    throw new CheckpointError('checkpoint too large');
  }
  return text;
}

function checkNumberSize(size: number): number {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new CheckpointError('checkpoint size must be a non-negative safe integer');
  }
  return size;
}

/** Parses checkpoint note text (not the signed note: see verifyCheckpoint). Strict. */
export function parseCheckpoint(text: string): Checkpoint {
  if (text.length > MAX_CHECKPOINT_TEXT_BYTES || utf8ByteLength(text) > MAX_CHECKPOINT_TEXT_BYTES) {
    throw new CheckpointError('checkpoint too large');
  }
  if (!text.endsWith('\n')) throw new CheckpointError('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointError('checkpoint needs origin, size and root hash');
  if (lines.length - 3 > MAX_EXTENSION_LINES) throw new CheckpointError('too many extension lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [
    string,
    string,
    string,
    ...string[],
  ];
  checkOrigin(origin);
  const size = parseSize(sizeLine);
  const rootHash = parseRoot(rootLine);
  for (const ext of extensions) {
    if (ext.length === 0) throw new CheckpointError('extension lines must be non-empty');
    checkLine(ext, 'extension line');
  }
  return { origin, size, rootHash, extensions };
}

/**
 * Formats and signs a checkpoint. The log's own signer must be named after
 * the origin (tlog-checkpoint: the key name SHOULD match the origin; here
 * it must, so that verifiers can find the log key by origin).
 */
export function signCheckpoint(input: CheckpointInput, signer: NoteSigner): string {
  if (signer.name !== input.origin) {
    throw new CheckpointError('the log key name must equal the checkpoint origin');
  }
  if (!isValidKeyName(input.origin)) {
    throw new CheckpointError('origin is not a valid key name (no spaces or "+")');
  }
  return signNote(formatCheckpoint(input), signer);
}

export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** Names of the known keys whose signatures verified (the log, and any known witnesses). */
  readonly verified: readonly string[];
  /** Signatures from keys the caller did not supply: ignored. */
  readonly unknown: readonly NoteSignature[];
}

/**
 * Verifies a signed checkpoint: the note must carry at least one valid
 * signature from `verifiers` (any known signature that fails rejects it),
 * its text must be a well-formed checkpoint, its origin must be
 * `expectedOrigin` — a checkpoint of another log is not this log's head —
 * and the log's own key (named after the origin) must be among the signers.
 */
export function verifyCheckpoint(
  noteText: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  expectedOrigin: string,
  limits: NoteLimits = {},
): VerifiedCheckpoint {
  const note = verifyNote(noteText, verifiers, limits);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== expectedOrigin) {
    throw new CheckpointError(
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(expectedOrigin)}`,
    );
  }
  if (!note.verified.includes(expectedOrigin)) {
    // Only witnesses signed it: a witness vouches for consistency, not for the log's contents.
    throw new CheckpointError('checkpoint is not signed by the log key');
  }
  return { checkpoint, verified: note.verified, unknown: note.unknown };
}
