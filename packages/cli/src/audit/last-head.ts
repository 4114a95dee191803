/**
 * The last signed head this CLI saw of a ledger, kept in the user's config
 * directory (`$XDG_CONFIG_HOME/bulwark/`, else `~/.config/bulwark/`), one file
 * per log origin: the next `bulwark audit verify` proves the new head extends
 * it. The file holds the checkpoint text (origin, size, base64 root).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, type CliIo, nonEmpty } from '../context.ts';
import { type Checkpoint, parseCheckpointText } from './checkpoint.ts';

export interface RememberedHead {
  origin: string;
  size: number;
  rootHash: Uint8Array;
}

export function configDir(io: CliIo): string {
  const xdg = nonEmpty(io.env.XDG_CONFIG_HOME);
  const home = nonEmpty(io.env.HOME) ?? homedir();
  return join(xdg ?? join(home, '.config'), 'bulwark');
}

/**
 * `last-head-<origin, sanitised>-<8 hex of its SHA-256>`: readable, and two
 * origins that sanitise alike still get different files.
 */
export function lastHeadPath(io: CliIo, origin: string): string {
  const safe = origin.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  const tag = createHash('sha256').update(origin, 'utf8').digest('hex').slice(0, 8);
  return join(configDir(io), `last-head-${safe}-${tag}`);
}

export async function readLastHead(io: CliIo, origin: string): Promise<RememberedHead | null> {
  const path = lastHeadPath(io, origin);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(
      `cannot read the remembered head ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let head: Checkpoint;
  try {
    // The file holds the checkpoint text only (the signature was checked when it was saved).
    head = parseCheckpointText(text);
  } catch (err) {
    throw new CliError(
      `the remembered head ${path} is unreadable (${(err as Error).message}); ` +
        'if you removed or edited it on purpose, delete it to start over',
    );
  }
  if (head.origin !== origin) {
    throw new CliError(`the remembered head ${path} is for the log "${head.origin}"`);
  }
  return head;
}

export async function rememberHead(io: CliIo, head: RememberedHead): Promise<string> {
  const path = lastHeadPath(io, head.origin);
  await mkdir(configDir(io), { recursive: true, mode: 0o700 });
  const root = Buffer.from(head.rootHash).toString('base64');
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${head.origin}\n${head.size}\n${root}\n`, { mode: 0o600 });
  await rename(temp, path);
  return path;
}
