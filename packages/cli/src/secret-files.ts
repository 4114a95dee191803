import { constants } from 'node:fs';
import { access, lstat, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CliError, type CliIo, nonEmpty } from './context.ts';

const maxSecretFileBytes = 64 * 1024;

/**
 * Reads a secret (passphrase, share, token) from a file. `passphrase` keeps
 * the text except one trailing line break (spaces may be part of it);
 * `token` trims all surrounding white space.
 */
export async function readSecretFile(
  io: CliIo,
  file: string,
  what: string,
  kind: 'passphrase' | 'token',
): Promise<string> {
  const path = resolve(io.cwd, file);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw new CliError(`cannot read the ${what} file ${path}: ${errCode(err)}`);
  }
  if (!info.isFile()) throw new CliError(`the ${what} file ${path} is not a regular file`);
  if (info.size > maxSecretFileBytes) {
    throw new CliError(`the ${what} file ${path} is too large to hold a ${what}`);
  }
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    io.stderr.write(
      `warning: ${path} can be read by other users of this machine; restrict it with \`chmod 600 ${path}\`\n`,
    );
  }
  const text = await readFile(path, 'utf8');
  const secret = kind === 'passphrase' ? text.replace(/\r?\n$/, '') : text.trim();
  if (secret === '') throw new CliError(`the ${what} file ${path} is empty`);
  return secret;
}

/**
 * Checks that every share file can be created, before init or rekey runs: the
 * shares exist only once, so no file may be found taken after the server made
 * them. `nothingDone` ends the refusal ("nothing was initialised").
 */
export async function checkShareTargets(
  io: CliIo,
  files: readonly string[],
  nothingDone: string,
): Promise<string[]> {
  const paths = files.map((f) => resolve(io.cwd, f));
  const seen = new Set<string>();
  for (const path of paths) {
    if (seen.has(path)) throw new CliError(`--share-file ${path} is given twice`);
    seen.add(path);
    const taken = await lstat(path).then(
      () => true,
      (err: unknown) => {
        if (errCode(err) === 'ENOENT') return false;
        throw new CliError(`cannot check the share file ${path}: ${errCode(err)}`);
      },
    );
    if (taken) {
      throw new CliError(
        `the share file ${path} already exists; refusing to overwrite it (${nothingDone})`,
      );
    }
    try {
      await access(dirname(path), constants.W_OK);
    } catch (err) {
      throw new CliError(
        `cannot create the share file ${path}: its directory is not writable (${errCode(err)}; ${nothingDone})`,
      );
    }
  }
  return paths;
}

/** Creates one share file, readable by its owner only; never replaces an existing file. */
export async function writeShareFile(path: string, share: string): Promise<void> {
  await writeFile(path, `${share}\n`, { mode: 0o600, flag: 'wx' });
}

export function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
}

/**
 * A passphrase from a file option, else BULWARK_PASSPHRASE, else the file
 * named by BULWARK_PASSPHRASE_FILE: the one order every command uses.
 * Undefined when none is given (the caller may prompt).
 */
export async function passphraseFromFileOrEnv(
  io: CliIo,
  file: string | undefined,
  label: string,
): Promise<string | undefined> {
  if (file !== undefined) return readSecretFile(io, file, label, 'passphrase');
  const fromEnv = nonEmpty(io.env.BULWARK_PASSPHRASE);
  if (fromEnv !== undefined) return fromEnv;
  const envFile = nonEmpty(io.env.BULWARK_PASSPHRASE_FILE);
  if (envFile !== undefined) return readSecretFile(io, envFile, label, 'passphrase');
  return undefined;
}
