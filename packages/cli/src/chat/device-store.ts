import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { MessageContent } from '@bulwark/crypto';
import type { MlsCiphersuite } from '@bulwark/protocol';
import type { Timeline } from './timeline.ts';

/**
 * What one messaging device keeps between runs. Everything that can decrypt
 * (the identity key, private key packages, group states) is in here, so the
 * store is the device.
 *
 * Key files are written with mode 0600 in a 0700 directory: on a shared
 * machine, another account reading `device.json` could impersonate the
 * device, and reading a group state decrypts that conversation's future
 * messages until the next commit. Not yet done: encrypting the store at rest
 * with a passphrase or the OS keychain (libsecret, Keychain, DPAPI), so a
 * stolen disk or backup still leaks the device. Until then the state
 * directory must be treated like an SSH private key.
 */
export interface DeviceStore {
  loadDevice(): Promise<StoredDevice | null>;
  saveDevice(device: StoredDevice): Promise<void>;

  /** Private key packages not used yet (and the last-resort one, which is reused). */
  loadKeyPackages(): Promise<StoredKeyPackage[]>;
  saveKeyPackages(packages: StoredKeyPackage[]): Promise<void>;

  listConversations(): Promise<string[]>;
  loadConversation(id: string): Promise<ConversationRecord | null>;
  saveConversation(record: ConversationRecord): Promise<void>;

  loadTimeline(id: string): Promise<Timeline | null>;
  saveTimeline(id: string, timeline: Timeline): Promise<void>;

  loadKnownKeys(): Promise<KnownKeys>;
  saveKnownKeys(keys: KnownKeys): Promise<void>;
}

export interface StoredDevice {
  /** The server origin the device is registered with. */
  server: string;
  deviceId: string;
  userId: string;
  name: string;
  /** The crypto package's exported identity (holds the Ed25519 private key), base64url. */
  identity: string;
  /** The Ed25519 identity public key, base64url. */
  signaturePublicKey: string;
  ciphersuite: MlsCiphersuite;
  createdAt: string;
}

export interface StoredKeyPackage {
  /** The KeyPackageRef (hex, RFC 9420 §5.2): how the one a Welcome used is found and dropped. */
  ref: string;
  /** The public key package as uploaded, base64url. */
  publicKey: string;
  /** The private part (init and encryption keys) as the crypto package exports it. */
  privateKey: string;
  /** Reused until replaced (RFC 9420 §16.8), so never dropped after a join. */
  lastResort: boolean;
  createdAt: string;
}

export interface Member {
  userId: string;
  deviceId: string;
}

/** A commit this device posted: adopted when the server delivers it back in order. */
export interface PendingCommit {
  /** Hex SHA-256 of the commit bytes. */
  hash: string;
  /** The group state the commit leads to, serialized, base64url. */
  groupState: string;
  epoch: number;
  added: Member[];
  removed: Member[];
}

export interface ConversationRecord {
  id: string;
  /** The serialized MLS group state (base64url), null until this device is in the group. */
  groupState: string | null;
  epoch: number | null;
  /** The epoch this device entered the group at: anything older was never meant for it. */
  joinedEpoch: number | null;
  /** Every delivery up to this seq is processed and stored (0: none yet). */
  processedSeq: number;
  /**
   * Kept on disk, not only in memory: if the process dies after the server
   * accepted the commit, the delivery of our own commit can still be adopted
   * (MLS does not let a member process its own commit).
   */
  pendingCommit: PendingCommit | null;
  /**
   * Hex SHA-256 of recent own application messages not seen back yet: a
   * sender cannot decrypt its own PrivateMessage (its ratchet moved on), so
   * the echo is recognised by its bytes.
   */
  ownSends: OwnSend[];
  /** This device was removed (or its group was lost): nothing more is processed. */
  removed: boolean;
  /** What the last view of the conversation said, for listing and warnings. */
  meta: ConversationMeta | null;
}

export interface OwnSend {
  /** Hex SHA-256 of the MLS message bytes as posted. */
  hash: string;
  /** Its position, once the server answered: forgotten when processing passes it. */
  seq?: number;
  /** What it said: if the process died before the timeline was written, the echo restores it. */
  content: MessageContent;
}

export interface ConversationMeta {
  projectId: string;
  kind: 'channel' | 'direct';
  name: string | null;
  participants: string[] | null;
  /** The users with a device in the roster. */
  users: string[];
  /** The server's external-sender key for this group (base64url): the only one allowed to propose. */
  externalSender: string;
}

/** Identity keys seen per user and device (trust on first use; changes are warned about). */
export type KnownKeys = Record<string, Record<string, { key: string; firstSeen: string }>>;

export function emptyConversation(id: string): ConversationRecord {
  return {
    id,
    groupState: null,
    epoch: null,
    joinedEpoch: null,
    processedSeq: 0,
    pendingCommit: null,
    ownSends: [],
    removed: false,
    meta: null,
  };
}

/** Conversation ids come from the server: only uuid-like names become file names. */
export function checkStoreId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/.test(id)) {
    throw new Error(`refusing to store under the id "${id.slice(0, 80)}"`);
  }
  return id;
}

// --- in memory (tests, many devices in one process) -------------------------------

/** Copies on the way in and out, so a caller mutating what it got cannot change the store. */
export class MemoryDeviceStore implements DeviceStore {
  #device: StoredDevice | null = null;
  #keyPackages: StoredKeyPackage[] = [];
  readonly #conversations = new Map<string, ConversationRecord>();
  readonly #timelines = new Map<string, Timeline>();
  #knownKeys: KnownKeys = {};

  async loadDevice() {
    return this.#device && structuredClone(this.#device);
  }
  async saveDevice(device: StoredDevice) {
    this.#device = structuredClone(device);
  }
  async loadKeyPackages() {
    return structuredClone(this.#keyPackages);
  }
  async saveKeyPackages(packages: StoredKeyPackage[]) {
    this.#keyPackages = structuredClone(packages);
  }
  async listConversations() {
    return [...this.#conversations.keys()];
  }
  async loadConversation(id: string) {
    const record = this.#conversations.get(id);
    return record ? structuredClone(record) : null;
  }
  async saveConversation(record: ConversationRecord) {
    this.#conversations.set(checkStoreId(record.id), structuredClone(record));
  }
  async loadTimeline(id: string) {
    const timeline = this.#timelines.get(id);
    return timeline ? structuredClone(timeline) : null;
  }
  async saveTimeline(id: string, timeline: Timeline) {
    this.#timelines.set(checkStoreId(id), structuredClone(timeline));
  }
  async loadKnownKeys() {
    return structuredClone(this.#knownKeys);
  }
  async saveKnownKeys(keys: KnownKeys) {
    this.#knownKeys = structuredClone(keys);
  }
}

// --- a directory on disk (the CLI) ------------------------------------------------

/**
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
