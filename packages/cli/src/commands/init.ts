import { errorCatalogue, type InitRequest } from '@bulwark/protocol';
import type { Command } from 'commander';
import { CliError, connect, printable, type Session, writeJson } from '../context.ts';
import {
  addNewMaterialOptions,
  type NewMaterialOptions,
  newPassphrase,
  planNewMaterial,
  printShares,
  writeShares,
} from './new-material.ts';

interface InitOptions extends NewMaterialOptions {
  json?: boolean;
}

export function registerInit(program: Command, session: Session): void {
  const init = program
    .command('init')
    .summary('initialise a new installation (root key, passphrase and/or unseal shares)')
    .description(
      'Initialise a new Bulwark installation: the server makes a random root key and keeps it only ' +
        'wrapped by a passphrase, by Shamir unseal shares (any k of n unseal), or by both. ' +
        'The passphrase is asked twice on the terminal unless --passphrase-file or ' +
        'BULWARK_PASSPHRASE gives it. Shares are shown (or written) exactly once.',
    );
  addNewMaterialOptions(init, {
    passphraseFile: 'read the passphrase from this file (its first line)',
    noPassphrase: 'set no passphrase: unseal with shares only (needs --shares)',
  })
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

async function runInit(session: Session, cmd: Command, opts: InitOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;

  // Everything that can be checked locally is checked before the server is asked:
  // once it has made the shares, they exist nowhere else.
  const plan = await planNewMaterial(io, opts, 'nothing was initialised');

  const client = connect(session.globals(cmd));
  const before = await client.status();
  if (before.initialized) throw new CliError(errorCatalogue.already_initialized.message);

  const req: InitRequest = {};
  if (plan.passphrase) req.passphrase = await newPassphrase(session, opts, true);
  if (plan.shares) req.shares = plan.shares;
  const result = await client.init(req);

  io.stderr.write(
    `initialised installation ${printable(result.installationId)}; the server is unsealed\n`,
  );
  io.stderr.write(
    `operator token written to ${printable(result.operatorTokenFile)} on the server machine\n` +
      '(keep it private: `bulwark seal` uses it)\n',
  );
  const written = await writeShares(session, plan.shareFiles, result.shares, result.threshold);
  if (session.json) {
    const { shares: shown, ...rest } = result;
    writeJson(
      io,
      plan.shareFiles.length > 0 ? { ...rest, shareFiles: written } : { ...rest, shares: shown },
    );
  } else if (plan.shareFiles.length === 0) {
    printShares(io, result.shares);
  }
  if (result.setupUrl) {
    // For a person, on stderr; --json output carries it too, for scripts.
    io.stderr.write(
      '\nNext: register the first admin. Open this link in a browser you trust, with your\n' +
        `passkey or security key at hand${result.expiresAt ? ` (valid until ${printable(result.expiresAt)})` : ''}:\n\n` +
        `    ${printable(result.setupUrl)}\n\n` +
        'It works once. If it expires, `bulwark setup-link` makes a new one while no admin exists.\n',
    );
  }
}
