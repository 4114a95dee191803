import { Command, CommanderError } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { ApiError, TransportError } from './client.ts';
import { registerAudit } from './commands/audit.ts';
import { registerChat } from './commands/chat.ts';
import { registerInit } from './commands/init.ts';
import { registerRekey } from './commands/rekey.ts';
import { registerSeal } from './commands/seal.ts';
import { registerSetupLink } from './commands/setup-link.ts';
import { registerStatus } from './commands/status.ts';
import { registerUnseal } from './commands/unseal.ts';
import {
  CliError,
  type CliIo,
  defaultServer,
  exitCodes,
  printable,
  type RawGlobals,
  resolveGlobals,
  type Session,
  writeJson,
} from './context.ts';
import { createPrompter, type SecretPrompter } from './prompt.ts';

/**
 * Runs the `bulwark` command with the given arguments (without `node` and
 * the script) and returns its exit code; everything it touches comes from `io`.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let prompter: SecretPrompter | undefined;
  const session: Session = {
    io,
    exitCode: exitCodes.ok,
    json: false,
    prompter: () => {
      prompter ??= createPrompter(io.stdin, io.stderr);
      return prompter;
    },
    globals: (cmd) => resolveGlobals(cmd.optsWithGlobals<RawGlobals>(), io),
  };
  try {
    await buildProgram(session).parseAsync([...argv], { from: 'user' });
    return session.exitCode;
  } catch (err) {
    return reportFailure(err, session);
  }
}

export function buildProgram(session: Session): Command {
  const { io } = session;
  const program = new Command('bulwark')
    .description(
      'Operate a Bulwark server: initialise it, unseal and seal it, rotate its unseal ' +
        'material, show its status, verify and export its audit ledger.',
    )
    .version(packageJson.version, '-V, --version', 'print the version of this CLI')
    .option('--server <url>', `server URL (env BULWARK_SERVER; default ${defaultServer})`)
    .option(
      '--ca <file>',
      'CA certificate to trust for the server (env BULWARK_CA; default <data-dir>/tls/ca.crt ' +
        'when that file exists, else the system trust store)',
    )
    .option(
      '--data-dir <dir>',
      'the server data directory, used for the defaults of --ca and the operator token file ' +
        '(env BULWARK_DATA_DIR; default ./data)',
    )
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      '\nSecrets (passphrases, shares, tokens) are asked for without echo, or read from files\n' +
        'or the environment; they are never printed or logged. Progress and messages go to\n' +
        'stderr; results (and --json output) go to stdout.\n' +
        '\nExit codes: 0 success; 1 error; 2 secret refused by `unseal`, current material\n' +
        'refused by `rekey`, or server sealed or not initialised for `status`; 3 the audit\n' +
        'ledger, a proof or its history failed to verify (`audit`); 130 cancelled at a prompt.',
    );
  registerInit(program, session);
  registerUnseal(program, session);
  registerSeal(program, session);
  registerSetupLink(program, session);
  registerRekey(program, session);
  registerStatus(program, session);
  registerAudit(program, session);
  registerChat(program, session);
  return program;
}

function reportFailure(err: unknown, session: Session): number {
  // Commander has already printed its own usage errors and help.
  if (err instanceof CommanderError) return err.exitCode;
  let failure: CliError;
  if (err instanceof CliError) failure = err;
  else if (err instanceof ApiError)
    failure = new CliError(printable(err.message), exitCodes.error, err.code);
  else if (err instanceof TransportError) failure = new CliError(err.message);
  else {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    failure = new CliError(`unexpected failure: ${detail}`);
  }
  session.io.stderr.write(`error: ${failure.message}\n`);
  if (session.json) {
    writeJson(session.io, {
      error: { code: failure.code ?? 'cli_error', message: failure.message },
    });
  }
  return failure.exitCode;
}
