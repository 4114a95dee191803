import { readFile } from 'node:fs/promises';
import {
  ApiError,
  ChatError,
  createCryptoEngine,
  type DeviceInfo,
  MessagingClient,
} from '@bulwark/chat';
import type { Command } from 'commander';
import { type ChatConfig, deviceDir, loadConfig, resolveStateDir } from '../chat/cli-state.ts';
import { FileDeviceStore, StoreLockedError } from '../chat/device-store.ts';
import { nodeTransport } from '../chat/node-transport.ts';
import { groupHex } from '../chat/render.ts';
import { CliError, printable, type Session } from '../context.ts';

interface JsonOption {
  json?: boolean;
}

export interface OpenChat {
  client: MessagingClient;
  config: ChatConfig;
  device: DeviceInfo;
  stateDir: string;
}

/**
 * Runs `action` with this user's device: loads the login, locks the device
 * store (one process per device), binds the session to the device (a new
 * challenge every run), then closes everything whatever happens.
 */
export async function withChat(
  session: Session,
  cmd: Command,
  opts: JsonOption,
  action: (chat: OpenChat) => Promise<void>,
): Promise<void> {
  session.json = opts.json === true;
  const chat = await openChat(session, cmd);
  try {
    await action(chat);
  } catch (err) {
    throw explainChatError(err);
  } finally {
    await closeChat(chat);
  }
}

export async function openChat(session: Session, cmd: Command): Promise<OpenChat> {
  const stateDir = resolveStateDir(
    session.io,
    cmd.optsWithGlobals<{ stateDir?: string }>().stateDir,
  );
  const config = await loadConfig(stateDir);
  const store = new FileDeviceStore(deviceDir(stateDir, config.server, config.userId));
  let unlock: () => Promise<void>;
  try {
    unlock = await store.lock();
  } catch (err) {
    if (err instanceof StoreLockedError) throw new CliError(err.message);
    throw err;
  }
  try {
    const client = new MessagingClient({
      baseUrl: config.server,
      token: config.token,
      ...nodeTransport(config.caFile === null ? undefined : await readCa(config.caFile)),
      store,
      engine: createCryptoEngine(),
    });
    const device = await client.ensureDevice(config.deviceName);
    locks.set(client, unlock);
    return { client, config, device, stateDir };
  } catch (err) {
    await unlock();
    throw explainChatError(err);
  }
}

const locks = new WeakMap<MessagingClient, () => Promise<void>>();

export async function closeChat(chat: OpenChat): Promise<void> {
  try {
    await chat.client.close();
  } finally {
    await locks.get(chat.client)?.();
  }
}

async function readCa(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read the CA certificate ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CliError(`${file} is not a PEM certificate`);
  }
  return pem;
}

/** Chat failures as messages for the terminal. */
export function explainChatError(err: unknown): unknown {
  if (err instanceof ApiError && err.code === 'unauthenticated') {
    return new CliError(
      'the saved session was refused (it expired or was logged out): run `bulwark chat login` again',
      1,
      err.code,
    );
  }
  if (err instanceof ApiError && err.code === 'device_not_verified') {
    return new CliError(
      `${printable(err.message)} (see \`bulwark chat devices\` for this device's fingerprint)`,
      1,
      err.code,
    );
  }
  if (err instanceof ChatError) return new CliError(printable(err.message), 1, err.code);
  return err;
}

/** For `chat login` and `chat devices`: a device's fingerprint, grouped for reading aloud. */
export function describeDevice(device: DeviceInfo): string {
  return (
    `device ${device.deviceId} (${printable(device.name)}), ${device.status}\n` +
    `fingerprint ${groupHex(device.fingerprint)}\n`
  );
}
