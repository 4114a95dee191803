import type { MessageContent } from '@bulwark/crypto';
import type { MlsCiphersuite } from '@bulwark/protocol';
import type { Timeline } from './timeline.ts';

/**
 * What one messaging device keeps between runs. Everything that can decrypt
 * (the identity key, private key packages, group states) is in here, so the
 * store is the device.
 *
 * The seam between the platform-neutral client and where a platform keeps
 * secrets: the CLI writes 0600 files (`FileDeviceStore` in packages/cli),
 * the web client seals records in its encrypted offline vault. Whatever
 * backs it must keep these records from other accounts and processes:
 * reading a group state decrypts that conversation's future messages until
 * the next commit, and the identity key impersonates the device.
 *
 * Only one client may use a store at a time: two holding the same group
 * state would encrypt with the same ratchet generation (AES-GCM nonce reuse)
 * and fork the group. Stores lock as their platform allows.
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
