import type { Command } from 'commander';
import { connect, printable, type Session, writeJson } from '../context.ts';
import { explainTokenRefusal, operatorToken, operatorTokenSources } from '../operator-token.ts';

interface SetupLinkOptions {
  tokenFile?: string;
  json?: boolean;
}

export function registerSetupLink(program: Command, session: Session): void {
  program
    .command('setup-link')
    .summary('make a new one-time link to register the first admin')
    .description(
      'Make a new one-time link for registering the first admin’s passkey, when the one printed ' +
        'by `bulwark init` expired. Works only while no admin exists. Needs the operator token, ' +
        `taken from, in this order: ${operatorTokenSources}.`,
    )
    .option('--token-file <file>', 'read the operator token from this file')
    .option('--json', 'print the link as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 link made, 1 error (also: an admin exists, token refused).',
    )
    .action((opts: SetupLinkOptions, cmd: Command) => runSetupLink(session, cmd, opts));
}

async function runSetupLink(session: Session, cmd: Command, opts: SetupLinkOptions) {
  const { io } = session;
  session.json = opts.json === true;
  const globals = session.globals(cmd);
  const token = await operatorToken(io, opts.tokenFile, globals.dataDir);
  const link = await connect(globals)
    .setupLink(token)
    .catch((err: unknown) => {
      throw explainTokenRefusal(err);
    });
  if (session.json) {
    writeJson(io, link);
    return;
  }
  io.stderr.write(
    `Open this link in a browser you trust (valid until ${printable(link.expiresAt)}; it works once):\n\n` +
      `    ${printable(link.setupUrl)}\n`,
  );
}
