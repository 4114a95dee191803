import { errorCatalogue, type SysStatus, type UnsealRequest } from '@bulwark/protocol';
import type { Command } from 'commander';
import { ApiError, type BulwarkClient } from '../client.ts';
import { CliError, connect, exitCodes, printable, type Session, writeJson } from '../context.ts';
import { passphraseFromFileOrEnv, readSecretFile } from '../secret-files.ts';

interface UnsealOptions {
  passphraseFile?: string;
  /** `true` for `--share` without a value: ask for it. */
  share?: string | true;
  shareFile?: string;
  reset?: boolean;
  json?: boolean;
}

/** Answers that mean "this secret was refused" (exit code 2), as opposed to other failures. */
export const refusedCodes: ReadonlySet<string> = new Set([
  'unseal_failed',
  'invalid_share',
  'foreign_share',
  'duplicate_share',
  'shares_mismatch',
]);

export function registerUnseal(program: Command, session: Session): void {
  program
    .command('unseal')
    .summary('unseal the server with the passphrase or one share')
    .description(
      'Unseal the server. A passphrase unseals at once; shares are given one at a time, possibly ' +
        'by different operators running this command in turn, until enough are given. ' +
        'The secret comes from, in this order: --share-file, --share, --passphrase-file, ' +
        'BULWARK_PASSPHRASE, BULWARK_PASSPHRASE_FILE; otherwise it is asked for without echo ' +
        '(a share when the installation has shares only or a share collection is under way, ' +
        'the passphrase otherwise).',
    )
    .option(
      '--share [share]',
      'give one unseal share; without a value it is asked for, hidden. Prefer that or ' +
        '--share-file: a value here shows in the process list and shell history',
    )
    .option('--share-file <file>', 'read one unseal share from this file')
    .option('--passphrase-file <file>', 'read the passphrase from this file (its first line)')
    .option('--reset', 'forget the shares given so far (then give a secret too, or stop there)')
    .option('--json', 'print the resulting server status as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 unsealed, share accepted or already unsealed; 1 error;\n' +
        '2 secret refused (wrong passphrase; invalid, foreign or duplicate share;\n' +
        'shares that do not match); 130 cancelled.',
    )
    .action((opts: UnsealOptions, cmd: Command) => runUnseal(session, cmd, opts));
}

async function runUnseal(session: Session, cmd: Command, opts: UnsealOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;
  const given = [opts.shareFile, opts.share, opts.passphraseFile].filter((o) => o !== undefined);
  if (given.length > 1) {
    throw new CliError('give one of --share-file, --share and --passphrase-file, not several');
  }
  const client = connect(session.globals(cmd));

  if (opts.reset) {
    const status = await send(client, { reset: true });
    if (given.length === 0) {
      io.stderr.write(`share progress reset: ${progress(status)}\n`);
      if (session.json) writeJson(io, status);
      return;
    }
  }

  const req = (await explicitSecret(session, opts)) ?? (await askedSecret(session, client));
  if (req === null) return;
  const status = await send(client, req);
  if (session.json) writeJson(io, status);
  io.stderr.write(
    status.state === 'unsealed' ? 'unsealed\n' : `share accepted: ${progress(status)}\n`,
  );
}

async function explicitSecret(
  session: Session,
  opts: UnsealOptions,
): Promise<UnsealRequest | null> {
  const { io } = session;
  if (opts.shareFile !== undefined) {
    return { share: await readSecretFile(io, opts.shareFile, 'share', 'token') };
  }
  if (typeof opts.share === 'string') return { share: nonBlankShare(opts.share) };
  if (opts.share === true) return { share: await askShare(session) };
  const passphrase = await passphraseFromFileOrEnv(io, opts.passphraseFile, 'passphrase');
  return passphrase === undefined ? null : { passphrase };
}

/** No secret given: look at the server to know which one to ask for. Null when there is nothing to do. */
async function askedSecret(session: Session, client: BulwarkClient): Promise<UnsealRequest | null> {
  const status = await client.status();
  if (!status.initialized) throw new CliError(errorCatalogue.not_initialized.message);
  if (!status.sealed) {
    session.io.stderr.write('the server is already unsealed; nothing to do\n');
    if (session.json) writeJson(session.io, status);
    return null;
  }
  const hasShares = status.providers.includes('shamir');
  const collecting = (status.shares?.given ?? 0) > 0;
  if (hasShares && (!status.providers.includes('passphrase') || collecting)) {
    if (status.shares) session.io.stderr.write(`unseal shares: ${progress(status)}\n`);
    return { share: await askShare(session) };
  }
  const passphrase = await session.prompter().ask('Passphrase (not shown): ', 'passphrase');
  return { passphrase };
}

async function askShare(session: Session): Promise<string> {
  return nonBlankShare(await session.prompter().ask('Unseal share (not shown): ', 'share'));
}

function nonBlankShare(text: string): string {
  const share = text.trim();
  if (share === '') throw new CliError('no share given');
  return share;
}

async function send(client: BulwarkClient, req: UnsealRequest): Promise<SysStatus> {
  try {
    return await client.unseal(req);
  } catch (err) {
    if (err instanceof ApiError && refusedCodes.has(err.code)) {
      throw new CliError(printable(err.message), exitCodes.refused, err.code);
    }
    throw err;
  }
}

function progress(status: SysStatus): string {
  if (!status.shares) return status.state;
  const { given, threshold } = status.shares;
  const more = Math.max(threshold - given, 0);
  return `${given} of ${threshold} given; ${more} more needed`;
}
