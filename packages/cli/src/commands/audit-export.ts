import { type FileHandle, open, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { hashFromHex, verifyInclusion } from '@bulwark/ledger';
import { type Command, InvalidArgumentError } from 'commander';
import { CheckpointError, verifyCheckpointNote } from '../audit/checkpoint.ts';
import { canonicalEntryText } from '../audit/entry-text.ts';
import type { AuditEntryRecord } from '../audit/schemas.ts';
import { count, openAudit, shout, type TokenOptions, tokenOption } from '../audit/session.ts';
import { CliError, exitCodes, printable, type Session } from '../context.ts';

interface ExportOptions extends TokenOptions {
  from?: number;
  to?: number;
  action?: string;
  actor?: string;
  since?: Date;
  until?: Date;
  issue?: string;
  org?: string;
  project?: string;
  output?: string;
}

const pageSize = 1000;
const progressEvery = 1000;

export function registerAuditExport(audit: Command, session: Session): void {
  tokenOption(
    audit
      .command('export')
      .summary('export entries as JSON Lines, each with its inclusion proof')
      .description(
        'Write the entries covered by the latest signed head as JSON Lines, one ' +
          '`{ seq, entry, leafHash, proof: { size, path } }` per line, the proof an RFC 9162 ' +
          'audit path against that head (hex, nearest sibling first). Every leaf hash and ' +
          'proof is verified before it is written. Filters apply on this side.',
      )
      .option('--from <seq>', 'first sequence number', count('--from'))
      .option('--to <seq>', 'last sequence number (inclusive)', count('--to'))
      .option('--action <action>', 'only this action (e.g. user.create; `user.*` for a domain)')
      .option('--actor <userId>', 'only entries by this user id')
      .option('--since <iso>', 'only entries at or after this time (ISO 8601)', isoTime('--since'))
      .option('--until <iso>', 'only entries before this time (ISO 8601)', isoTime('--until'))
      .option('--issue <key>', 'only entries citing this issue')
      .option('--org <orgId>', 'only entries about this org')
      .option('--project <projectId>', 'only entries about this project')
      .option('--output <file>', 'write to this new file (mode 0600) instead of stdout')
      .addHelpText(
        'after',
        '\nEntries after the latest signed head are not exported: sign the current head first ' +
          'with `bulwark audit checkpoint`.\n' +
          '\nExit codes: 0 exported; 3 an entry or proof failed to verify; 1 error.',
      ),
  ).action((opts: ExportOptions, cmd: Command) => runExport(session, cmd, opts));
}

function isoTime(what: string): (text: string) => Date {
  return (text) => {
    const time = new Date(text);
    if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(time.getTime())) {
      throw new InvalidArgumentError(`${what} must be an ISO 8601 time, e.g. 2025-01-31T12:00:00Z`);
    }
    return time;
  };
}

function matches(opts: ExportOptions, record: AuditEntryRecord): boolean {
  const e = record.entry;
  // Retention dropped this entry's content: it matches only an unfiltered export (by position).
  if (e === null) {
    return [
      opts.action,
      opts.actor,
      opts.issue,
      opts.org,
      opts.project,
      opts.since,
      opts.until,
    ].every((f) => f === undefined);
  }
  if (opts.action !== undefined) {
    const action = typeof e.action === 'string' ? e.action : '';
    const wanted = opts.action;
    const ok = wanted.endsWith('.*') ? action.startsWith(wanted.slice(0, -1)) : action === wanted;
    if (!ok) return false;
  }
  if (opts.actor !== undefined) {
    const actor = e.actor as { userId?: unknown } | undefined;
    if (actor?.userId !== opts.actor) return false;
  }
  if (opts.issue !== undefined && e.issue !== opts.issue) return false;
  // Entries from before orgs existed (version 1) name no org or project: they match neither filter.
  if (opts.org !== undefined && e.org !== opts.org) return false;
  if (opts.project !== undefined && e.project !== opts.project) return false;
  if (opts.since !== undefined || opts.until !== undefined) {
    const time = typeof e.time === 'string' ? new Date(e.time).getTime() : Number.NaN;
    if (Number.isNaN(time)) return false;
    if (opts.since !== undefined && time < opts.since.getTime()) return false;
    if (opts.until !== undefined && time >= opts.until.getTime()) return false;
  }
  return true;
}

async function runExport(session: Session, cmd: Command, opts: ExportOptions): Promise<void> {
  const { io } = session;
  const { audit, token } = await openAudit(session, cmd, opts);
  const note = await audit.checkpoint(token);
  const { verifierKey } = await audit.key(token);
  let root: Uint8Array;
  let size: number;
  try {
    ({ rootHash: root, size } = verifyCheckpointNote(note, verifierKey));
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    shout(io, `THE LEDGER'S SIGNED HEAD IS NOT AUTHENTIC: ${printable(err.message)}`);
    session.exitCode = exitCodes.auditFailed;
    return;
  }
  const from = opts.from ?? 0;
  const last = Math.min(opts.to ?? Number.MAX_SAFE_INTEGER, size - 1);

  const outputPath = opts.output === undefined ? null : resolve(io.cwd, opts.output);
  let file: FileHandle | null = null;
  if (outputPath !== null) {
    try {
      file = await open(outputPath, 'wx', 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CliError(
        code === 'EEXIST'
          ? `${outputPath} exists already: the export writes a new file only`
          : `cannot create ${outputPath}: ${code ?? String(err)}`,
      );
    }
  }
  const write = async (text: string) => {
    if (file) await file.write(text);
    else io.stdout.write(text);
  };

  let scanned = 0;
  let exported = 0;
  let complete = false;
  try {
    for (let next = from; next <= last; ) {
      const { entries } = await audit.entries(token, next, pageSize);
      if (entries.length === 0) break;
      for (const record of entries) {
        if (record.seq !== next) {
          throw new CliError(`the server skipped from entry ${next} to ${record.seq}`);
        }
        next += 1;
        if (record.seq > last) break;
        scanned += 1;
        if (matches(opts, record)) {
          const problem = await exportOne(record);
          if (problem) {
            shout(io, `EXPORT STOPPED: entry ${record.seq} ${problem}`);
            session.exitCode = exitCodes.auditFailed;
            return;
          }
          exported += 1;
        }
        if (scanned % progressEvery === 0) {
          io.stderr.write(`scanned ${scanned} entries, exported ${exported}\n`);
        }
      }
    }
    complete = true;
  } finally {
    await file?.close();
    // A partial export would look like a complete one: remove it.
    if (!complete && outputPath !== null) await unlink(outputPath).catch(() => {});
  }
  io.stderr.write(
    `exported ${exported} of ${scanned} entries scanned, each with its proof against the ` +
      `signed head of size ${size}${outputPath ? ` to ${outputPath}` : ''}\n`,
  );
  if (opts.to === undefined || opts.to >= size) {
    io.stderr.write(
      'entries after that head are not included: `bulwark audit checkpoint` signs a newer one\n',
    );
  }

  async function exportOne(record: AuditEntryRecord): Promise<string | null> {
    // A pruned entry has no text to hash: its leaf hash is proven in the tree all the same.
    if (record.entry !== null && canonicalEntryText(record.entry, record.leafHash) === null) {
      return 'does not hash to the leaf hash the server reported';
    }
    const { proof } = await audit.inclusion(token, record.seq, size);
    const leaf = hashFromHex(record.leafHash);
    const path = proof.map(hashFromHex).filter((p) => p !== null);
    if (!leaf || !verifyInclusion(leaf, record.seq, size, path, root)) {
      return `has no valid inclusion proof against the signed head of size ${size}`;
    }
    const line = {
      seq: record.seq,
      entry: record.entry,
      ...(record.entry === null ? { pruned: true } : {}),
      leafHash: record.leafHash,
      proof: { size, path: proof },
    };
    await write(`${JSON.stringify(line)}\n`);
    return null;
  }
}
