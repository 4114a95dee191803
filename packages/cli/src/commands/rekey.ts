import {
  errorCatalogue,
  type InitRequest,
  type RekeyRequest,
  type RekeyResponse,
  type SysStatus,
  type UnsealProviderKind,
} from '@bulwark/protocol';
import type { Command } from 'commander';
import { ApiError, type BulwarkClient } from '../client.ts';
import {
  CliError,
  type CliIo,
  connect,
  exitCodes,
  printable,
  type Session,
  writeJson,
} from '../context.ts';
import { explainTokenRefusal, operatorToken, operatorTokenSources } from '../operator-token.ts';
import { passphraseFromFileOrEnv, readSecretFile } from '../secret-files.ts';
import {
  addNewMaterialOptions,
  collect,
  type NewMaterialOptions,
  newPassphrase,
  planNewMaterial,
  printShares,
  writeShares,
} from './new-material.ts';
import { refusedCodes } from './unseal.ts';

interface RekeyOptions extends NewMaterialOptions {
  currentPassphraseFile?: string;
  currentShareFile?: string[];
  tokenFile?: string;
  json?: boolean;
}

type CurrentMaterial = RekeyRequest['current'];

export function registerRekey(program: Command, session: Session): void {
  const rekey = program
    .command('rekey')
    .summary('rotate the unseal material: new passphrase and/or new shares, same root key')
    .description(
      'Rotate the unseal material: given the CURRENT passphrase or shares, the server re-wraps ' +
        'its root key under a NEW passphrase, NEW Shamir shares (any k of n unseal), or both, ' +
        'and forgets the old wrappings. The new passphrase is asked twice unless ' +
        '--passphrase-file gives it; new shares are shown (or written) exactly once. ' +
        'The server must be unsealed. Needs the operator token written at init, taken from, ' +
        `in this order: ${operatorTokenSources}.`,
    )
    .option(
      '--current-passphrase-file <file>',
      'read the CURRENT passphrase from this file (its first line)',
    )
    .option(
      '--current-share-file <file>',
      'read one CURRENT unseal share from this file; repeat for as many shares as unseal ' +
        '(all are sent at once)',
      collect,
    );
  addNewMaterialOptions(rekey, {
    passphraseFile: 'read the NEW passphrase from this file (else it is asked twice)',
    noPassphrase: 'the new material has no passphrase: shares only (needs --shares)',
  })
    .option('--token-file <file>', 'read the operator token from this file')
    .option(
      '--json',
      'print the result as JSON on stdout (with the new shares unless --share-file is used)',
    )
    .addHelpText(
      'after',
      '\nThe current material comes from, in this order: --current-share-file,\n' +
        '--current-passphrase-file, BULWARK_PASSPHRASE, BULWARK_PASSPHRASE_FILE. Otherwise it\n' +
        'is asked for: the current passphrase when the installation has one, else its shares\n' +
        'one after another, so that several operators can type theirs in turn at one terminal\n' +
        '(an empty line ends the list when the server does not say how many are needed).\n' +
        'The NEW passphrase never comes from the environment, which holds the current one.\n' +
        '\nExamples:\n' +
        '  bulwark rekey                                  current passphrase -> new passphrase\n' +
        '  bulwark rekey --no-passphrase --shares 3 --threshold 2 \\\n' +
        '      --share-file alice.share --share-file bob.share --share-file carol.share\n' +
        '  bulwark rekey --current-share-file alice.share --current-share-file bob.share\n' +
        '\nAfterwards the old passphrase and the old shares no longer unseal the server. The data\n' +
        'is NOT re-encrypted (the root key stays the same): backups made before the rekey hold\n' +
        'the OLD keyring, which the OLD passphrase or shares still open.\n' +
        '\nExit codes: 0 rekeyed; 1 error (also: operator token refused, server sealed);\n' +
        '2 current passphrase or shares refused (nothing was changed); 130 cancelled.',
    )
    .action((opts: RekeyOptions, cmd: Command) => runRekey(session, cmd, opts));
}

async function runRekey(session: Session, cmd: Command, opts: RekeyOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;

  // Local checks first, the share files above all: once the server has made
  // the new shares, the old ones are void and the new exist nowhere else.
  if (opts.currentShareFile !== undefined && opts.currentPassphraseFile !== undefined) {
    throw new CliError('give --current-share-file or --current-passphrase-file, not both');
  }
  const plan = await planNewMaterial(io, opts, 'nothing was changed');
  const globals = session.globals(cmd);
  const token = await operatorToken(io, opts.tokenFile, globals.dataDir);
  const given = await givenCurrent(io, opts);

  const client = connect(globals);
  const before = await client.status();
  if (!before.initialized) throw new CliError(errorCatalogue.not_initialized.message);
  if (before.sealed) throw sealedError();
  if (given) checkProvider(given, before.providers);
  if (before.providers.includes('shamir') && !plan.shares) {
    io.stderr.write(
      'note: without --shares and --threshold the new material has no shares: ' +
        'the server will unseal with the new passphrase only\n',
    );
  }
  const current = given ?? (await askCurrent(session, before));

  const next: InitRequest = {};
  if (plan.passphrase) {
    next.passphrase = await newPassphrase(session, opts, false);
    if ('passphrase' in current && current.passphrase === next.passphrase) {
      throw new CliError(
        'the new passphrase is the same as the current one; choose another (nothing was changed)',
      );
    }
  }
  if (plan.shares) next.shares = plan.shares;
  const result = await send(client, token, { current, next });

  io.stderr.write(
    `rekeyed installation ${printable(result.installationId)}\n` +
      `It now unseals with ${newMaterial(result)}.\n` +
      `${oldMaterial(before.providers)} this server.\n` +
      'The data was NOT re-encrypted: the root key is the same, only its wrapping changed.\n' +
      'Backups made before this rekey hold the OLD keyring, which the OLD passphrase or shares\n' +
      'still open (and with it those backups): destroy the old material, or guard it as well\n' +
      'as those backups.\n',
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
}

/** The current material from options or the environment; null when it must be asked for. */
async function givenCurrent(io: CliIo, opts: RekeyOptions): Promise<CurrentMaterial | null> {
  if (opts.currentShareFile !== undefined) {
    const shares: string[] = [];
    for (const file of opts.currentShareFile) {
      shares.push(await readSecretFile(io, file, 'current share', 'token'));
    }
    return { shares };
  }
  const passphrase = await passphraseFromFileOrEnv(
    io,
    opts.currentPassphraseFile,
    'current passphrase',
  );
  return passphrase === undefined ? null : { passphrase };
}

/** Refuses at once a kind of current material the installation does not have. */
function checkProvider(current: CurrentMaterial, providers: readonly UnsealProviderKind[]): void {
  if ('passphrase' in current && !providers.includes('passphrase')) {
    throw new CliError(
      `${noProvider(current)} (nothing was changed)`,
      exitCodes.refused,
      'provider_not_configured',
    );
  }
  if ('shares' in current && !providers.includes('shamir')) {
    throw new CliError(
      `${noProvider(current)} (nothing was changed)`,
      exitCodes.refused,
      'provider_not_configured',
    );
  }
}

function noProvider(current: CurrentMaterial): string {
  return 'passphrase' in current
    ? 'this installation has no passphrase: give its current shares (--current-share-file, ' +
        'or unset BULWARK_PASSPHRASE and BULWARK_PASSPHRASE_FILE to be asked for them)'
    : 'this installation has no unseal shares: give its current passphrase';
}

async function askCurrent(session: Session, status: SysStatus): Promise<CurrentMaterial> {
  if (status.providers.includes('passphrase')) {
    const passphrase = await session
      .prompter()
      .ask('Current passphrase (not shown): ', 'current passphrase');
    if (passphrase === '') throw new CliError('no passphrase given');
    return { passphrase };
  }
  return { shares: await askCurrentShares(session, status.shares?.threshold ?? null) };
}

/**
 * The current shares, one after another at one terminal: each operator types
 * theirs in turn. The server tells the threshold only while sealed; when it
 * does not, an empty line ends the list.
 */
async function askCurrentShares(session: Session, threshold: number | null): Promise<string[]> {
  const { io } = session;
  const prompter = session.prompter();
  io.stderr.write(
    threshold === null
      ? 'The current unseal shares are needed: each operator types theirs in turn, hidden.\n' +
          'Enter an empty line after the last one.\n'
      : `${threshold} current unseal shares are needed: each operator types theirs in turn, hidden.\n`,
  );
  const shares: string[] = [];
  for (let i = 1; threshold === null ? i <= 255 : i <= threshold; i++) {
    const prompt =
      threshold === null
        ? `Share ${i} (operator ${i}, hidden; empty line when done): `
        : `Share ${i} of ${threshold} (operator ${i}, hidden): `;
    const share = (await prompter.ask(prompt, `current share ${i}`)).trim();
    if (share === '') {
      if (threshold === null && shares.length > 0) break;
      throw new CliError(`no share given for share ${i}; nothing was changed`);
    }
    if (shares.includes(share)) {
      throw new CliError(`share ${i} is the same as an earlier one; nothing was changed`);
    }
    shares.push(share);
  }
  return shares;
}

async function send(
  client: BulwarkClient,
  token: string,
  req: RekeyRequest,
): Promise<RekeyResponse> {
  try {
    return await client.rekey(token, req);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code === 'sealed') throw sealedError();
    if (refusedCodes.has(err.code) || err.code === 'provider_not_configured') {
      throw new CliError(
        `${refusal(err, req.current)}. Nothing was changed: the current passphrase and shares ` +
          'still unlock the server.',
        exitCodes.refused,
        err.code,
      );
    }
    throw explainTokenRefusal(err);
  }
}

/** Why the current material was refused, without the unseal wording of the server's messages. */
function refusal(err: ApiError, current: CurrentMaterial): string {
  switch (err.code) {
    case 'unseal_failed':
      return 'the current passphrase is wrong';
    case 'shares_mismatch':
      return 'the current shares given do not unlock this installation (wrong or mixed shares?)';
    case 'provider_not_configured':
      return noProvider(current);
    default:
      return `a current share was refused: ${printable(err.message).replace(/\.$/, '')}`;
  }
}

function sealedError(): CliError {
  return new CliError(
    'the server is sealed: unseal it first with `bulwark unseal`, then rekey (nothing was changed)',
    exitCodes.error,
    'sealed',
  );
}

function newMaterial(result: RekeyResponse): string {
  const ways: string[] = [];
  if (result.providers.includes('passphrase')) ways.push('the new passphrase');
  if (result.providers.includes('shamir')) {
    ways.push(`any ${result.threshold ?? '?'} of the ${result.shares.length} new shares`);
  }
  return ways.join(' or ');
}

/** "The OLD passphrase and the OLD shares no longer unlock", for what the server had. */
function oldMaterial(providers: readonly UnsealProviderKind[]): string {
  const old: string[] = [];
  if (providers.includes('passphrase')) old.push('passphrase');
  if (providers.includes('shamir')) old.push('shares');
  if (old.length === 0) return 'The OLD unseal material NO LONGER unlocks';
  const verb = old.length === 1 && old[0] === 'passphrase' ? 'unlocks' : 'unlock';
  return `The OLD ${old.join(' and the OLD ')} NO LONGER ${verb}`;
}
