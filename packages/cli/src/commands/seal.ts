import type { Command } from 'commander';
import { connect, type Session, writeJson } from '../context.ts';
import { explainTokenRefusal, operatorToken, operatorTokenSources } from '../operator-token.ts';

interface SealOptions {
  tokenFile?: string;
  json?: boolean;
}

export function registerSeal(program: Command, session: Session): void {
  program
    .command('seal')
    .summary('seal the server (it forgets its keys until the next unseal)')
    .description(
      'Seal the server: it drops its root key and answers nothing but status and unseal until ' +
        'it is unsealed again. Needs the operator token written at init, taken from, in this ' +
        `order: ${operatorTokenSources}.`,
    )
    .option('--token-file <file>', 'read the operator token from this file')
    .option('--json', 'print the resulting server status as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 sealed, 1 error (also: token refused).')
    .action((opts: SealOptions, cmd: Command) => runSeal(session, cmd, opts));
}

async function runSeal(session: Session, cmd: Command, opts: SealOptions): Promise<void> {
  const { io } = session;
  session.json = opts.json === true;
  const globals = session.globals(cmd);
  const token = await operatorToken(io, opts.tokenFile, globals.dataDir);
  const status = await connect(globals)
    .seal(token)
    .catch((err: unknown) => {
      throw explainTokenRefusal(err);
    });
  if (session.json) writeJson(io, status);
  io.stderr.write('sealed\n');
}
