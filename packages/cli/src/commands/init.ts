import {
  errorCatalogue,
  type InitRequest,
  initRequestSchema,
  passphraseSchema,
} from '@bulwark/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import { CliError, connect, nonEmpty, printable, type Session, writeJson } from '../context.ts';
import { checkShareTargets, readSecretFile, writeShareFile } from '../secret-files.ts';

interface InitOptions {
  passphraseFile?: string;
  /** False with `--no-passphrase`. */
  passphrase: boolean;
  shares?: number;
  threshold?: number;
  shareFile?: string[];
  json?: boolean;
}

export function registerInit(program: Command, session: Session): void {
  program
    .command('init')
    .summary('initialise a new installation (root key, passphrase and/or unseal shares)')
    .description(
      'Initialise a new Bulwark installation: the server makes a random root key and keeps it only ' +
        'wrapped by a passphrase, by Shamir unseal shares (any k of n unseal), or by both. ' +
        'The passphrase is asked twice on the terminal unless --passphrase-file or ' +
        'BULWARK_PASSPHRASE gives it. Shares are shown (or written) exactly once.',
    )
    .option('--passphrase-file <file>', 'read the passphrase from this file (its first line)')
    .option('--no-passphrase', 'set no passphrase: unseal with shares only (needs --shares)')
    .option(
      '--shares <n>',
      'make n unseal shares (2 to 255; give each to a different person)',
      count,
    )
    .option('--threshold <k>', 'shares needed to unseal (2 to n)', count)
    .option(
      '--share-file <file>',
      'write one share to this file (mode 0600, never overwrites); repeat once per share',
      (file: string, files: string[] | undefined) => [...(files ?? []), file],
    )
    .option(
      '--json',
      'print the result as JSON on stdout (with the shares unless --share-file is used)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  bulwark init                                   ask for a passphrase\n' +
        '  bulwark init --shares 5 --threshold 3          passphrase and 5 shares, any 3 unseal\n' +
        '  bulwark init --no-passphrase --shares 3 --threshold 2 \\\n' +
        '      --share-file alice.share --share-file bob.share --share-file carol.share\n' +
        '\nThe passphrase may also come from BULWARK_PASSPHRASE_FILE. The server writes an\n' +
        'operator token for `bulwark seal`; its path is printed.\n' +
        '\nExit codes: 0 initialised; 1 error (also: already initialised); 130 cancelled.',
    )
    .action((opts: InitOptions, cmd: Command) => runInit(session, cmd, opts));
}

function count(value: string): number {
  if (!/^\d{1,3}$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

async function runInit(session: Session, cmd: Command, opts: InitOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;

  // Everything that can be checked locally is checked before the server is asked:
  // once it has made the shares, they exist nowhere else.
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
  const shareFiles = await checkShareTargets(io, shareFileArgs);

  const client = connect(session.globals(cmd));
  const before = await client.status();
  if (before.initialized) throw new CliError(errorCatalogue.already_initialized.message);

  const req: InitRequest = {};
  if (opts.passphrase) req.passphrase = await newPassphrase(session, opts);
  if (shares) req.shares = shares;
  const result = await client.init(req);

  io.stderr.write(
    `initialised installation ${printable(result.installationId)}; the server is unsealed\n`,
  );
  io.stderr.write(
    `operator token written to ${printable(result.operatorTokenFile)} on the server machine\n` +
      '(keep it private: `bulwark seal` uses it)\n',
  );
  const written = await writeShares(session, shareFiles, result.shares, result.threshold);
  if (session.json) {
    const { shares: shown, ...rest } = result;
    writeJson(
      io,
      shareFiles.length > 0 ? { ...rest, shareFiles: written } : { ...rest, shares: shown },
    );
  } else if (shareFiles.length === 0 && result.shares.length > 0) {
    result.shares.forEach((share, i) => {
      io.stdout.write(`share ${i + 1} of ${result.shares.length}: ${printable(share)}\n`);
    });
  }
}

function shareRequest(opts: InitOptions): InitRequest['shares'] {
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

async function newPassphrase(session: Session, opts: InitOptions): Promise<string> {
  const { io } = session;
  // The same order as `bulwark unseal`: option, BULWARK_PASSPHRASE, BULWARK_PASSPHRASE_FILE.
  const envFile = nonEmpty(io.env.BULWARK_PASSPHRASE_FILE);
  const fromEnv = nonEmpty(io.env.BULWARK_PASSPHRASE);
  if (opts.passphraseFile !== undefined) {
    return checkedPassphrase(
      await readSecretFile(io, opts.passphraseFile, 'passphrase', 'passphrase'),
    );
  }
  if (fromEnv !== undefined) return checkedPassphrase(fromEnv);
  if (envFile !== undefined) {
    return checkedPassphrase(await readSecretFile(io, envFile, 'passphrase', 'passphrase'));
  }

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

/** Writes the shares to their files, or says plainly that they are shown once. */
async function writeShares(
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
      shares.slice(i).forEach((s, j) => {
        io.stdout.write(`share ${i + j + 1} of ${shares.length}: ${printable(s)}\n`);
      });
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
