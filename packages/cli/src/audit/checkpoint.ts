/**
 * Reading a C2SP tlog-checkpoint note (https://c2sp.org/tlog-checkpoint) and
 * checking its Ed25519 signature (https://c2sp.org/signed-note) against the
 * log's verifier key `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`:
 *
 *     <origin>\n<size>\n<base64 root>\n[extensions\n]\n— <name> <base64(key ID ‖ sig)>\n…
 */
import { createHash, createPublicKey, verify } from 'node:crypto';

export interface Checkpoint {
  origin: string;
  size: number;
  /** The 32-byte root hash. */
  rootHash: Uint8Array;
  /** The whole note as received. */
  note: string;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const spkiEd25519Prefix = Buffer.from('302a300506032b6570032100', 'hex');

/** Parses the checkpoint text of a note (the lines before the blank line). */
export function parseCheckpoint(note: string): Checkpoint {
  const end = note.indexOf('\n\n');
  if (end < 0) throw new CheckpointError('the checkpoint has no signature block');
  const lines = note.slice(0, end).split('\n');
  const [origin, sizeLine, rootLine] = lines;
  if (!origin || sizeLine === undefined || rootLine === undefined) {
    throw new CheckpointError('the checkpoint needs an origin, a size and a root hash line');
  }
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    throw new CheckpointError('the checkpoint size is not a decimal number');
  }
  const rootHash = strictBase64(rootLine);
  if (rootHash?.length !== 32) {
    throw new CheckpointError('the checkpoint root hash is not 32 bytes of base64');
  }
  return { origin, size: Number(sizeLine), rootHash, note };
}

/**
 * Parses `note` and checks that `verifierKey` signed it; throws
 * CheckpointError otherwise. Signatures of other keys (witnesses) are ignored.
 */
export function verifyCheckpointNote(note: string, verifierKey: string): Checkpoint {
  const checkpoint = parseCheckpoint(note);
  const key = parseVerifierKey(verifierKey);
  if (checkpoint.origin !== key.name) {
    throw new CheckpointError(
      `the checkpoint is for the log "${checkpoint.origin}", the key for "${key.name}"`,
    );
  }
  const split = note.indexOf('\n\n');
  const text = Buffer.from(note.slice(0, split + 1), 'utf8');
  const signatureLines = note.slice(split + 2).split('\n');
  if (signatureLines.at(-1) !== '') throw new CheckpointError('the note does not end in a newline');
  for (const line of signatureLines.slice(0, -1)) {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) throw new CheckpointError('malformed signature line in the note');
    if (match[1] !== key.name) continue;
    const blob = strictBase64(match[2] ?? '');
    if (!blob || blob.length !== 4 + 64) continue;
    if (Buffer.from(blob.subarray(0, 4)).readUInt32BE(0) !== key.keyId) continue;
    if (verify(null, text, key.publicKey, blob.subarray(4))) return checkpoint;
    throw new CheckpointError(`the signature of ${key.name} on the checkpoint does not verify`);
  }
  throw new CheckpointError(`the checkpoint carries no signature of the key ${key.name}`);
}

function parseVerifierKey(text: string) {
  // name "+" 8 hex "+" base64: the base64 may itself hold "+", the name may not.
  const match = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text);
  const [, name, idHex, keyB64] = match ?? [];
  const encoded = strictBase64(keyB64 ?? '');
  if (!name || !idHex || encoded?.length !== 33 || encoded[0] !== 0x01) {
    throw new CheckpointError('the verifier key is not an Ed25519 note verifier key');
  }
  const keyId = createHash('sha256').update(name, 'utf8').update('\n').update(encoded).digest();
  if (keyId.readUInt32BE(0) !== Number.parseInt(idHex, 16)) {
    throw new CheckpointError('the verifier key ID does not match its name and key');
  }
  const publicKey = createPublicKey({
    key: Buffer.concat([spkiEd25519Prefix, encoded.subarray(1)]),
    format: 'der',
    type: 'spki',
  });
  return { name, keyId: keyId.readUInt32BE(0), publicKey };
}

function strictBase64(text: string): Uint8Array | null {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    return null;
  }
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : null;
}
