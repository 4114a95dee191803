import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ConversationRecord,
  checkStoreId,
  type DeviceStore,
  type KnownKeys,
  type StoredDevice,
  type StoredKeyPackage,
  type Timeline,
} from '@bulwark/chat';

/**
 * The CLI's device store: a directory on disk.
 *
 * Key files are written with mode 0600 in a 0700 directory: on a shared
 * machine, another account reading `device.json` could impersonate the
 * device, and reading a group state decrypts that conversation's future
 * messages until the next commit. Not yet done: encrypting the store at rest
 * with a passphrase or the OS keychain (libsecret, Keychain, DPAPI), so a
 * stolen disk or backup still leaks the device. Until then the state
 * directory must be treated like an SSH private key.
 *
 * Layout: `device.json`, `key-packages.json`, `known-keys.json`,
 * `conversations/<id>.json` (group state, processed seq, pending commit) and
 * `timelines/<id>.json`. The timeline is written before the conversation
 * record: after a crash in between, the delivery is processed again with the
 * old state and the timeline drops the repeat by message id.
 */
export class FileDeviceStore implements DeviceStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async loadDevice() {
    return readJson<StoredDevice>(join(this.dir, 'device.json'));
  }
  async saveDevice(device: StoredDevice) {
    await writeFileAtomic(join(this.dir, 'device.json'), device);
  }
  async loadKeyPackages() {
    return (await readJson<StoredKeyPackage[]>(join(this.dir, 'key-packages.json'))) ?? [];
  }
  async saveKeyPackages(packages: StoredKeyPackage[]) {
    await writeFileAtomic(join(this.dir, 'key-packages.json'), packages);
  }
  async listConversations() {
    try {
      const names = await readdir(join(this.dir, 'conversations'));
      return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
  async loadConversation(id: string) {
    return readJson<ConversationRecord>(this.#path('conversations', id));
  }
  async saveConversation(record: ConversationRecord) {
    await writeFileAtomic(this.#path('conversations', record.id), record);
  }
  async loadTimeline(id: string) {
    return readJson<Timeline>(this.#path('timelines', id));
  }
  async saveTimeline(id: string, timeline: Timeline) {
    await writeFileAtomic(this.#path('timelines', id), timeline);
  }
  async loadKnownKeys() {
    return (await readJson<KnownKeys>(join(this.dir, 'known-keys.json'))) ?? {};
  }
  async saveKnownKeys(keys: KnownKeys) {
    await writeFileAtomic(join(this.dir, 'known-keys.json'), keys);
  }

  /**
   * One process per device at a time: two processes holding the same group
   * state would encrypt with the same ratchet generation (AES-GCM nonce
   * reuse) and fork the group. The lock is a file created exclusively,
   * holding the pid; a lock left by a dead process is taken over.
   */
  async lock(): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return async () => {
          await rm(path, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
          throw new StoreLockedError(this.dir, holder);
        }
        await rm(path, { force: true });
      }
    }
    throw new StoreLockedError(this.dir, null);
  }

  #path(kind: 'conversations' | 'timelines', id: string): string {
    return join(this.dir, kind, `${checkStoreId(id)}.json`);
  }
}

export class StoreLockedError extends Error {
  readonly pid: number | null;
  constructor(dir: string, pid: number | null) {
    super(
      `another bulwark chat process${pid === null ? '' : ` (pid ${pid})`} is using the device in ${dir}; ` +
        'stop it first (one process per device keeps the encryption state from forking)',
    );
    this.name = 'StoreLockedError';
    this.pid = pid;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return JSON.parse(text) as T;
}

/**
 * Write-to-temp, fsync, rename, fsync the directory: a crash leaves either
 * the old file or the new one, never a torn one. The temp file is created
 * with 0600 (not chmod-ed after), so the secret is never readable by others,
 * not even for a moment.
 */
export async function writeFileAtomic(path: string, value: unknown): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(value)}\n`, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** For callers that must create the state directory before anything is written (0700). */
export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
