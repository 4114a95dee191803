import { readFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { CliError, type CliIo, nonEmpty } from '../context.ts';
import { writeFileAtomic } from './device-store.ts';

/**
 * What `bulwark chat login` leaves in the state directory: the server, its
 * CA and the bearer session token (secret: the file is 0600, like the
 * device store next to it).
 */
export interface ChatConfig {
  v: 1;
  server: string;
  /** Absolute path of the CA certificate to trust, or null for the system store. */
  caFile: string | null;
  token: string;
  userId: string;
  /** The name the device registers under. */
  deviceName: string;
}

/** `--state-dir`, else `$XDG_CONFIG_HOME/bulwark/chat`, else `~/.config/bulwark/chat`. */
export function resolveStateDir(io: CliIo, option: string | undefined): string {
  if (option !== undefined) return resolve(io.cwd, option);
  const xdg = nonEmpty(io.env.XDG_CONFIG_HOME);
  const base = xdg ?? join(nonEmpty(io.env.HOME) ?? homedir(), '.config');
  return join(base, 'bulwark', 'chat');
}

export function configPath(stateDir: string): string {
  return join(stateDir, 'config.json');
}

/** One device per server and user: logging in as someone else does not reuse this device. */
export function deviceDir(stateDir: string, server: string, userId: string): string {
  const host = new URL(server).host.replace(/[^A-Za-z0-9.-]/g, '_');
  return join(stateDir, 'devices', host, userId.replace(/[^A-Za-z0-9-]/g, '_'));
}

export function defaultDeviceName(): string {
  return `bulwark-cli on ${hostname()}`.slice(0, 100);
}

export async function saveConfig(stateDir: string, config: ChatConfig): Promise<void> {
  await writeFileAtomic(configPath(stateDir), config);
}

export async function loadConfig(stateDir: string): Promise<ChatConfig> {
  let text: string;
  try {
    text = await readFile(configPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(
        `not logged in (no ${configPath(stateDir)}): run \`bulwark chat login\` first`,
      );
    }
    throw err;
  }
  const value = JSON.parse(text) as Partial<ChatConfig>;
  if (
    value.v !== 1 ||
    typeof value.server !== 'string' ||
    typeof value.token !== 'string' ||
    typeof value.userId !== 'string'
  ) {
    throw new CliError(`${configPath(stateDir)} is not a chat login written by this CLI`);
  }
  return {
    v: 1,
    server: value.server,
    caFile: typeof value.caFile === 'string' ? value.caFile : null,
    token: value.token,
    userId: value.userId,
    deviceName: typeof value.deviceName === 'string' ? value.deviceName : defaultDeviceName(),
  };
}
