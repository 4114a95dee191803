import { join } from 'node:path';
import type { Command } from 'commander';
import { ApiError } from '../client.ts';
import { CliError, connect, nonEmpty, printable, type Session, writeJson } from '../context.ts';
import { readSecretFile } from '../secret-files.ts';

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
        'order: --token-file, BULWARK_OPERATOR_TOKEN, BULWARK_OPERATOR_TOKEN_FILE, ' +
        '<data-dir>/operator.token.',
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
  const token = await operatorToken(session, opts, globals.dataDir);
  const client = connect(globals);
  let status: Awaited<ReturnType<typeof client.seal>>;
  try {
    status = await client.seal(token);
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'unauthenticated' || err.code === 'forbidden')) {
      throw new CliError(
        `the operator token was refused: ${printable(err.message)} (is it the token of this installation?)`,
        1,
        err.code,
      );
    }
    throw err;
  }
  if (session.json) writeJson(io, status);
  io.stderr.write('sealed\n');
}

async function operatorToken(
  session: Session,
  opts: SealOptions,
  dataDir: string,
): Promise<string> {
  const { io } = session;
  if (opts.tokenFile !== undefined) {
    return readSecretFile(io, opts.tokenFile, 'operator token', 'token');
  }
  const fromEnv = nonEmpty(io.env.BULWARK_OPERATOR_TOKEN)?.trim();
  if (fromEnv) return fromEnv;
  const envFile = nonEmpty(io.env.BULWARK_OPERATOR_TOKEN_FILE);
  if (envFile !== undefined) return readSecretFile(io, envFile, 'operator token', 'token');
  const fallback = join(dataDir, 'operator.token');
  try {
    return await readSecretFile(io, fallback, 'operator token', 'token');
  } catch (err) {
    throw new CliError(
      `no operator token: ${(err as Error).message}. Give --token-file, or set BULWARK_OPERATOR_TOKEN ` +
        'or BULWARK_OPERATOR_TOKEN_FILE (bulwark init prints where the token was written)',
    );
  }
}
