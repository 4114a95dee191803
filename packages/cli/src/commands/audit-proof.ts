import { hashFromHex, verifyInclusion } from '@bulwark/ledger';
import type { Command } from 'commander';
import { CheckpointError, verifyCheckpointNote } from '../audit/checkpoint.ts';
import { canonicalEntryText } from '../audit/entry-text.ts';
import type { SignedHeadRecord } from '../audit/schemas.ts';
import {
  count,
  openAudit,
  printableNote,
  shout,
  type TokenOptions,
  tokenOption,
} from '../audit/session.ts';
import { CliError, exitCodes, printable, type Session, writeJson } from '../context.ts';

interface ProofOptions extends TokenOptions {
  size?: number;
  json?: boolean;
}

/** Everything an auditor needs to check one entry's inclusion with RFC 9162 alone. */
export interface InclusionBundle {
  seq: number;
  /** The entry exactly as hashed: RFC 8785 canonical JSON, UTF-8. */
  entry: string;
  leafHash: string;
  leafIndex: number;
  treeSize: number;
  /** Hex, nearest sibling first (RFC 9162 §2.1.3). */
  auditPath: string[];
  /** The signed C2SP checkpoint note of the head of `treeSize` leaves. */
  checkpoint: string;
  /** The C2SP signed-note verifier key of the log. */
  verifierKey: string;
}

export function registerAuditProof(audit: Command, session: Session): void {
  tokenOption(
    audit
      .command('proof')
      .summary('print the inclusion proof of one entry against a signed head')
      .description(
        'Print what an auditor needs to check, with the published algorithms only, that entry ' +
          '<seq> is in the ledger: the entry exactly as hashed (RFC 8785 canonical JSON), its ' +
          'leaf hash and index, the tree size, the audit path (RFC 9162 §2.1.3, nearest ' +
          'sibling first), the signed checkpoint of that size (C2SP tlog-checkpoint) and the ' +
          "log's verifier key (C2SP signed-note). The proof is also verified here.",
      )
      .argument('<seq>', 'the sequence number of the entry', count('<seq>'))
      .option(
        '--size <n>',
        'the signed head to prove against (default: the latest)',
        count('--size'),
      )
      .option('--json', 'print the proof as JSON on stdout')
      .addHelpText(
        'after',
        '\nExit codes: 0 proof verified; 3 the proof or the entry failed to verify; 1 error.',
      ),
  ).action((seq: number, opts: ProofOptions, cmd: Command) => runProof(session, cmd, seq, opts));
}

async function runProof(
  session: Session,
  cmd: Command,
  seq: number,
  opts: ProofOptions,
): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;
  const { audit, token } = await openAudit(session, cmd, opts);
  const head = pickHead((await audit.heads(token)).heads, opts.size);
  if (seq >= head.size) {
    throw new CliError(
      `entry ${seq} is not covered by the signed head of size ${head.size}: a newer signed ` +
        'head is needed. Sign one with `bulwark audit checkpoint` (POST /v1/audit/checkpoint), ' +
        'then run this again.',
    );
  }
  const [record] = (await audit.entries(token, seq, 1)).entries;
  if (!record || record.seq !== seq) throw new CliError(`the server has no entry ${seq}`);
  const { proof } = await audit.inclusion(token, seq, head.size);
  const { verifierKey } = await audit.key(token);
  const bundle: InclusionBundle = {
    seq,
    entry: '',
    leafHash: record.leafHash,
    leafIndex: seq,
    treeSize: head.size,
    auditPath: proof,
    checkpoint: head.checkpoint,
    verifierKey,
  };

  const problem = checkBundle(bundle, record.entry);
  if (problem) {
    shout(io, `PROOF VERIFICATION FAILED for entry ${seq}: ${printable(problem)}`);
    session.exitCode = exitCodes.auditFailed;
    if (session.json) writeJson(io, { ...bundle, verified: false, problem });
    return;
  }
  if (session.json) writeJson(io, { ...bundle, verified: true });
  else io.stdout.write(formatBundle(bundle));
  io.stderr.write(`proof verified against the signed head of size ${head.size}\n`);
}

/** The head of `size`, or the latest. */
function pickHead(heads: SignedHeadRecord[], size: number | undefined): SignedHeadRecord {
  const latest = heads.at(-1);
  if (!latest) {
    throw new CliError(
      'the ledger has no signed head yet: sign one with `bulwark audit checkpoint`',
    );
  }
  if (size === undefined) return latest;
  const head = heads.find((h) => h.size === size);
  if (!head) {
    throw new CliError(
      `there is no signed head of size ${size} (the latest has size ${latest.size}); ` +
        'pick a signed size, or sign the current head with `bulwark audit checkpoint`',
    );
  }
  return head;
}

/**
 * Fills in the entry text and checks everything an auditor will: the leaf
 * hash of the text, the checkpoint's signature and size, and the audit path
 * to its root. Returns what is wrong, or null.
 */
function checkBundle(bundle: InclusionBundle, entry: unknown): string | null {
  const text = canonicalEntryText(entry, bundle.leafHash);
  if (text === null) {
    return 'the canonical JSON of the entry does not hash to the leaf hash the server reported';
  }
  bundle.entry = text;
  let root: Uint8Array;
  try {
    const checkpoint = verifyCheckpointNote(bundle.checkpoint, bundle.verifierKey);
    if (checkpoint.size !== bundle.treeSize) {
      return `the checkpoint is for size ${checkpoint.size}, not ${bundle.treeSize}`;
    }
    root = checkpoint.rootHash;
  } catch (err) {
    if (err instanceof CheckpointError) return `the signed checkpoint: ${err.message}`;
    throw err;
  }
  const leaf = hashFromHex(bundle.leafHash);
  const path = bundle.auditPath.map(hashFromHex);
  if (!leaf || path.some((p) => p === null)) return 'a hash is not 32 bytes of hex';
  const ok = verifyInclusion(
    leaf,
    bundle.leafIndex,
    bundle.treeSize,
    path.filter((p) => p !== null),
    root,
  );
  return ok ? null : 'the audit path does not lead from the leaf to the signed root';
}

function formatBundle(b: InclusionBundle): string {
  // The entry is printed exactly; if it holds characters a terminal would
  // act on, it is given as base64 of its UTF-8 bytes instead.
  const exact = printable(b.entry) === b.entry;
  const entry = exact
    ? `entry (RFC 8785 canonical JSON, UTF-8; the leaf is SHA-256(0x00 || these bytes)):\n${b.entry}\n`
    : `entry (base64 of its RFC 8785 canonical JSON, UTF-8; the leaf is SHA-256(0x00 || these bytes)):\n${Buffer.from(b.entry, 'utf8').toString('base64')}\n`;
  return [
    entry,
    `leaf hash:  ${b.leafHash}`,
    `leaf index: ${b.leafIndex}`,
    `tree size:  ${b.treeSize}`,
    'audit path (RFC 9162 §2.1.3.2; hex, nearest sibling first; node = SHA-256(0x01 || left || right)):',
    ...(b.auditPath.length > 0 ? b.auditPath.map((h) => `  ${h}`) : ['  (empty)']),
    '',
    `signed checkpoint of size ${b.treeSize} (C2SP tlog-checkpoint; line 3 is the base64 root hash):`,
    printableNote(b.checkpoint),
    'verifier key (C2SP signed-note, Ed25519):',
    printable(b.verifierKey),
    '',
  ].join('\n');
}
