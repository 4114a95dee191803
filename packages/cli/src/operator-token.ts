import { join } from 'node:path';
import { ApiError } from './client.ts';
import { CliError, type CliIo, nonEmpty, printable } from './context.ts';
import { readSecretFile } from './secret-files.ts';

/** Where the operator token is looked for, in order (for the help texts). */
export const operatorTokenSources =
  '--token-file, BULWARK_OPERATOR_TOKEN, BULWARK_OPERATOR_TOKEN_FILE, <data-dir>/operator.token';

/** The operator token written at init, which `seal` and `rekey` send as a bearer token. */
export async function operatorToken(
  io: CliIo,
  tokenFile: string | undefined,
  dataDir: string,
): Promise<string> {
  if (tokenFile !== undefined) return readSecretFile(io, tokenFile, 'operator token', 'token');
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

/** A refused operator token as a clear CLI error (exit 1); any other error unchanged. */
export function explainTokenRefusal(err: unknown): unknown {
  if (err instanceof ApiError && (err.code === 'unauthenticated' || err.code === 'forbidden')) {
    return new CliError(
      `the operator token was refused: ${printable(err.message)} (is it the token of this installation?)`,
      1,
      err.code,
    );
  }
  return err;
}
