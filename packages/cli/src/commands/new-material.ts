import { type InitRequest, initRequestSchema, passphraseSchema } from '@bulwark/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import { CliError, type CliIo, printable, type Session } from '../context.ts';
import { checkShareTargets, passphraseFromFileOrEnv, writeShareFile } from '../secret-files.ts';

/**
 * New unseal material — a passphrase, Shamir shares, or both — as `init`
 * makes it and `rekey` replaces it: the options, their local checks, the
 * passphrase asked twice, and the shares handed out exactly once.
 */
export interface NewMaterialOptions {
  passphraseFile?: string;
  /** False with `--no-passphrase`. */
  passphrase: boolean;
  shares?: number;
  threshold?: number;
  shareFile?: string[];
}

/** What differs between the commands in the help of the shared options. */
export interface NewMaterialHelp {
  passphraseFile: string;
  noPassphrase: string;
}

export function addNewMaterialOptions(cmd: Command, help: NewMaterialHelp): Command {
  return cmd
    .option('--passphrase-file <file>', help.passphraseFile)
    .option('--no-passphrase', help.noPassphrase)
    .option(
      '--shares <n>',
      'make n unseal shares (2 to 255; give each to a different person)',
      count,
    )
    .option('--threshold <k>', 'shares needed to unseal (2 to n)', count)
    .option(
      '--share-file <file>',
      'write one share to this file (mode 0600, never overwrites); repeat once per share',
      collect,
    );
}

/** Commander's collector for a repeatable option. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function count(value: string): number {
  if (!/^\d{1,3}$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

export interface NewMaterialPlan {
  /** Whether a passphrase is to be set (asked or read later, see `newPassphrase`). */
  passphrase: boolean;
  shares: InitRequest['shares'];
  /** Absolute paths, checked free and writable; empty when the shares are to be shown. */
  shareFiles: string[];
}

/**
 * Everything about the new material that can be checked locally, checked
 * before the server is asked: once it has made the shares, they exist
 * nowhere else. `nothingDone` ends the refusals ("nothing was initialised").
 */
export async function planNewMaterial(
  io: CliIo,
  opts: NewMaterialOptions,
  nothingDone: string,
): Promise<NewMaterialPlan> {
  const shares = shareRequest(opts);
  if (!opts.passphrase && opts.passphraseFile !== undefined) {
    throw new CliError('--no-passphrase and --passphrase-file contradict each other');
  }
  if (!opts.passphrase && !shares) {
    throw new CliError(
      '--no-passphrase needs --shares and --threshold: something must unseal the server',
    );
  }
  const shareFileArgs = opts.shareFile ?? [];
  if (shareFileArgs.length > 0 && shareFileArgs.length !== shares?.count) {
    throw new CliError(
      `--share-file must be given once per share (${shares?.count ?? 0} times), not ${shareFileArgs.length}`,
    );
  }
  const shareFiles = await checkShareTargets(io, shareFileArgs, nothingDone);
  return { passphrase: opts.passphrase, shares, shareFiles };
}

function shareRequest(opts: NewMaterialOptions): InitRequest['shares'] {
  if (opts.shares === undefined && opts.threshold === undefined) return undefined;
  if (opts.shares === undefined || opts.threshold === undefined) {
    throw new CliError('give --shares and --threshold together');
  }
  const shares = { count: opts.shares, threshold: opts.threshold };
  // The protocol's own rule (2 ≤ threshold ≤ count ≤ 255), checked before anything happens.
  const checked = initRequestSchema.safeParse({ shares });
  if (!checked.success) {
    throw new CliError(
      `--shares/--threshold: ${checked.error.issues.map((i) => i.message).join('; ')}`,
    );
  }
  return shares;
}

/**
 * The new passphrase: `--passphrase-file`, then (when `fromEnv`) the same
 * environment variables as `bulwark unseal`, else asked twice without echo.
 * `rekey` passes `fromEnv: false`: there the environment holds the CURRENT one.
 */
export async function newPassphrase(
  session: Session,
  opts: NewMaterialOptions,
  fromEnv: boolean,
): Promise<string> {
  const { io } = session;
  // The same order as `bulwark unseal`; rekey reads only the file, since
  // there the environment holds the current passphrase.
  const given = await passphraseFromFileOrEnv(
    fromEnv ? io : { ...io, env: {} },
    opts.passphraseFile,
    'passphrase',
  );
  if (given !== undefined) return checkedPassphrase(given);

  const prompter = session.prompter();
  const attempts = prompter.interactive ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      const first = checkedPassphrase(
        await prompter.ask('New passphrase (at least 12 characters, not shown): ', 'passphrase'),
      );
      const again = await prompter.ask('Repeat the passphrase: ', 'repeated passphrase');
      if (again !== first) throw new CliError('the two passphrases do not match');
      return first;
    } catch (err) {
      if (!(err instanceof CliError) || err.exitCode !== 1 || attempt >= attempts) throw err;
      io.stderr.write(`${err.message}; try again\n`);
    }
  }
}

function checkedPassphrase(passphrase: string): string {
  const checked = passphraseSchema.safeParse(passphrase);
  if (!checked.success) throw new CliError(checked.error.issues.map((i) => i.message).join('; '));
  return checked.data;
}

/**
 * Writes the new shares to their files, or says plainly that they are shown
 * once (then `printShares` shows them). Returns the files written.
 */
export async function writeShares(
  session: Session,
  files: readonly string[],
  shares: readonly string[],
  threshold: number | null,
): Promise<string[]> {
  const { io } = session;
  if (shares.length === 0) return [];
  const needed = `any ${threshold ?? '?'} of these ${shares.length} shares unseal the server`;
  if (files.length === 0) {
    io.stderr.write(
      `\nIMPORTANT: the ${shares.length} unseal shares below are shown only this once.\n` +
        'The server never keeps them. Copy each one now and give each to a different\n' +
        `person, who keeps it safe and offline: ${needed}.\n` +
        'Whoever holds enough of them can unseal the server: never keep them together.\n\n',
    );
    return [];
  }
  const written: string[] = [];
  for (const [i, path] of files.entries()) {
    const share = shares[i];
    if (share === undefined) break;
    try {
      await writeShareFile(path, share);
      written.push(path);
      io.stderr.write(`share ${i + 1} of ${shares.length} written to ${path}\n`);
    } catch (err) {
      // The shares exist nowhere else: rather than lose them, show the ones not written.
      io.stderr.write(
        `error: could not write ${path} (${(err as Error).message}); the remaining shares follow ONCE:\n`,
      );
      printShares(io, shares, i);
      throw new CliError(
        'not every share could be written to its file; copy the shares shown above now',
      );
    }
  }
  io.stderr.write(
    `\nThe server never keeps these shares: ${needed}.\n` +
      'Give each file to a different person and delete it from this machine once handed over.\n',
  );
  return written;
}

/** The shares on stdout, one a line, from index `from` on. */
export function printShares(io: CliIo, shares: readonly string[], from = 0): void {
  shares.slice(from).forEach((share, j) => {
    io.stdout.write(`share ${from + j + 1} of ${shares.length}: ${printable(share)}\n`);
  });
}
