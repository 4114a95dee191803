/**
 * The CLI's view of a signed checkpoint: the ledger library's C2SP
 * signed-note / tlog-checkpoint code, with its errors turned into one
 * CheckpointError the commands report.
 */
import {
  Ed25519NoteVerifier,
  parseCheckpoint as parseCheckpointLines,
  parseNote,
  verifyCheckpoint,
} from '@bulwark/ledger';

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

function refuse(err: unknown): never {
  throw new CheckpointError((err as Error).message);
}

/** Parses the checkpoint of a signed note, without checking signatures. */
export function parseCheckpoint(note: string): Checkpoint {
  try {
    const { origin, size, rootHash } = parseCheckpointLines(parseNote(note).text);
    return { origin, size, rootHash, note };
  } catch (err) {
    return refuse(err);
  }
}

/** Parses bare checkpoint text (origin, size, root lines), as the CLI remembers it. */
export function parseCheckpointText(text: string): Checkpoint {
  try {
    const { origin, size, rootHash } = parseCheckpointLines(text);
    return { origin, size, rootHash, note: text };
  } catch (err) {
    return refuse(err);
  }
}

/**
 * Parses `note` and checks that the log key `verifierKey`
 * (`<name>+<hex key ID>+<base64 key>`) signed it; witnesses' signatures are
 * ignored. Throws CheckpointError otherwise.
 */
export function verifyCheckpointNote(note: string, verifierKey: string): Checkpoint {
  try {
    const verifier = Ed25519NoteVerifier.fromVerifierKey(verifierKey);
    const { checkpoint } = verifyCheckpoint(note, [verifier], verifier.name);
    return {
      origin: checkpoint.origin,
      size: checkpoint.size,
      rootHash: checkpoint.rootHash,
      note,
    };
  } catch (err) {
    return refuse(err);
  }
}
