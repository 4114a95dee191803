import { hashFromHex, toHex, verifyConsistency } from '@bulwark/ledger';
import type { Command } from 'commander';
import { type Checkpoint, CheckpointError, verifyCheckpointNote } from '../audit/checkpoint.ts';
import { readLastHead, rememberHead } from '../audit/last-head.ts';
import type { AuditVerifyAnswer } from '../audit/schemas.ts';
import {
  type AuditContext,
  openAudit,
  shout,
  type TokenOptions,
  tokenOption,
} from '../audit/session.ts';
import { exitCodes, printable, type Session, writeJson } from '../context.ts';

interface VerifyOptions extends TokenOptions {
  json?: boolean;
}

interface HistoryCheck {
  ok: boolean;
  origin: string | null;
  size: number | null;
  rootHash: string | null;
  previous: { size: number; rootHash: string } | null;
  /** Why the history check failed, when it did. */
  problem: string | null;
  /** Where the head was remembered (only when everything verified). */
  rememberedIn: string | null;
}

export function registerAuditVerify(audit: Command, session: Session): void {
  tokenOption(
    audit
      .command('verify')
      .summary('verify the whole ledger, and that its history only grew since the last time')
      .description(
        'Ask the server to recompute every entry, the Merkle tree and every signed head from ' +
          'storage (POST /v1/audit/verify). Then, on this machine: check the signature of the ' +
          'latest signed checkpoint, and prove with an RFC 9162 consistency proof that it ' +
          'extends the signed head the previous `bulwark audit verify` saw (remembered in ' +
          '$XDG_CONFIG_HOME/bulwark/, else ~/.config/bulwark/); then remember the new head.',
      )
      .option('--json', 'print the results as JSON on stdout')
      .addHelpText(
        'after',
        '\nExit codes: 0 verified; 3 the ledger failed to verify or its history changed; ' +
          '1 error.',
      ),
  ).action((opts: VerifyOptions, cmd: Command) => runVerify(session, cmd, opts));
}

async function runVerify(session: Session, cmd: Command, opts: VerifyOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;
  const ctx = await openAudit(session, cmd, opts);
  const ledger = await ctx.audit.verify(ctx.token);
  if (ledger.ok) {
    if (!session.json) {
      io.stdout.write(`ledger verified: ${ledger.size} entries, ${ledger.heads} signed heads\n`);
    }
  } else {
    const bad =
      ledger.firstBadSeq === null
        ? 'no single entry named'
        : `first bad entry: ${ledger.firstBadSeq}`;
    shout(io, `LEDGER VERIFICATION FAILED: ${printable(ledger.reason)} (${bad})`);
  }

  const history = await checkHistory(session, ctx, ledger);
  if (session.json) writeJson(io, { ledger, history });
  session.exitCode = ledger.ok && history.ok ? exitCodes.ok : exitCodes.auditFailed;
}

async function checkHistory(
  session: Session,
  ctx: AuditContext,
  ledger: AuditVerifyAnswer,
): Promise<HistoryCheck> {
  const { io } = session;
  const note = await ctx.audit.checkpoint(ctx.token);
  const { verifierKey } = await ctx.audit.key(ctx.token);
  let head: Checkpoint;
  try {
    head = verifyCheckpointNote(note, verifierKey);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    const problem = `the latest signed checkpoint does not verify: ${err.message}`;
    shout(io, `THE LEDGER'S SIGNED HEAD IS NOT AUTHENTIC: ${printable(problem)}`);
    return failed(null, null, problem);
  }
  const previous = await readLastHead(io, head.origin);
  const result = (ok: boolean, problem: string | null, rememberedIn: string | null) => ({
    ok,
    origin: head.origin,
    size: head.size,
    rootHash: toHex(head.rootHash),
    previous: previous ? { size: previous.size, rootHash: toHex(previous.rootHash) } : null,
    problem,
    rememberedIn,
  });

  if (previous) {
    let problem: string | null = null;
    if (head.size < previous.size) {
      problem =
        `the latest signed head has ${head.size} entries, fewer than the ${previous.size} ` +
        'this CLI saw before: entries were removed';
    } else {
      const { proof } = await ctx.audit.consistency(ctx.token, previous.size, head.size);
      const path = proof.map(hashFromHex).filter((h) => h !== null);
      if (!verifyConsistency(previous.size, head.size, path, previous.rootHash, head.rootHash)) {
        problem =
          `the signed head of size ${head.size} does not extend the signed head of size ` +
          `${previous.size} this CLI saw before (the consistency proof does not verify): ` +
          'entries seen before were changed, removed or reordered';
      }
    }
    if (problem) {
      shout(
        io,
        `THE LEDGER'S HISTORY CHANGED: ${printable(problem)}.\n` +
          `Log ${printable(head.origin)}; the head remembered in the config directory is kept.`,
      );
      return result(false, problem, null);
    }
  }
  if (!ledger.ok) return result(true, null, null);
  const rememberedIn = await rememberHead(io, head);
  io.stderr.write(
    previous
      ? previous.size === head.size
        ? `history: the signed head of size ${head.size} is the one seen before\n`
        : `history: the signed head of size ${head.size} extends the one of size ${previous.size} seen before\n`
      : `history: first check of ${printable(head.origin)} from here; remembered the signed head of size ${head.size}\n`,
  );
  return result(true, null, rememberedIn);

  function failed(size: number | null, root: string | null, problem: string): HistoryCheck {
    return {
      ok: false,
      origin: null,
      size,
      rootHash: root,
      previous: null,
      problem,
      rememberedIn: null,
    };
  }
}
