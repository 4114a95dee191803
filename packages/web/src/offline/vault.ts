/**
 * The encrypted offline store: one IndexedDB database per user
 * (`bulwark-vault-<userId>`), every record sealed with AES-GCM under a data
 * key that is itself wrapped by a key derived from a passkey's PRF output
 * (or an offline passphrase). Locked, it is nothing readable: a stolen
 * browser profile yields user ids, credential ids and ciphertext. The key
 * hierarchy is described in vault-crypto.ts.
 *
 * In IndexedDB:
 *   records   { id: HMAC(name), ns: HMAC(first segment of name),
 *               iv, data: AES-GCM(JSON, aad = user + name),
 *               nameIv, name: AES-GCM(name, aad = user + id) }
 *   wrappings { id: 'prf:<credentialId>' | 'passphrase', salt, [iterations], keys }
 *
 * `ns` lets `list('outbox:')` read only its namespace; it reveals how many
 * records share a first segment, not which one.
 */
import { type DBSchema, deleteDB, type IDBPDatabase, openDB } from 'idb';
import { useSyncExternalStore } from 'react';
import type { Me } from '../app/session.tsx';
import { VaultCorruptError, VaultLockedError, VaultOpenError } from './errors.ts';
import { rememberCredential } from './remembered-devices.ts';
import {
  fromUtf8,
  generateVaultKeys,
  kekFromPassphrase,
  kekFromPrf,
  MIN_PASSPHRASE_LENGTH,
  opaqueId,
  open,
  PBKDF2_ITERATIONS,
  randomBytes,
  seal,
  unwrapVaultKeys,
  utf8,
  type VaultKeys,
  type WrappedKeys,
  wrapVaultKeys,
} from './vault-crypto.ts';

export type { VaultOpenReason } from './errors.ts';
export { VaultCorruptError, VaultLockedError, VaultOpenError } from './errors.ts';
export {
  type DeviceStorage,
  forgetDevice,
  type LastSession,
  lastSession,
  rememberedCredentials,
  setDeviceStorage,
} from './remembered-devices.ts';
export { MIN_PASSPHRASE_LENGTH, PBKDF2_ITERATIONS } from './vault-crypto.ts';

export type VaultState = 'locked' | 'open';

interface RecordRow {
  id: string;
  ns: string;
  iv: Uint8Array<ArrayBuffer>;
  data: Uint8Array<ArrayBuffer>;
  nameIv: Uint8Array<ArrayBuffer>;
  name: Uint8Array<ArrayBuffer>;
}

type WrappingRow =
  | { id: `prf:${string}`; kind: 'prf'; salt: Uint8Array<ArrayBuffer>; keys: WrappedKeys }
  | {
      id: 'passphrase';
      kind: 'passphrase';
      salt: Uint8Array<ArrayBuffer>;
      iterations: number;
      keys: WrappedKeys;
    };

interface VaultSchema extends DBSchema {
  records: { key: string; value: RecordRow; indexes: { ns: string } };
  wrappings: { key: string; value: WrappingRow };
}

type VaultDb = IDBPDatabase<VaultSchema>;

interface Session {
  userId: string;
  db: VaultDb;
  /** Non-extractable: usable for sealing, never readable as bytes. */
  keys: VaultKeys;
  /**
   * The KEK that opened the store and the wrapping it opened, kept so that a
   * new passkey or passphrase can be added while open without holding an
   * extractable data key for the whole session (it exists only for the
   * moment of re-wrapping).
   */
  unlock: { kek: CryptoKey; row: WrappingRow };
}

let session: Session | null = null;
/** Opens run one after another: two tabs' worth of clicks must not open twice. */
let queue: Promise<unknown> = Promise.resolve();
const listeners = new Set<() => void>();

function notify(): void {
  for (const listener of listeners) listener();
}

export function subscribeVault(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function vaultState(): VaultState {
  return session ? 'open' : 'locked';
}

export function useVaultState(): VaultState {
  return useSyncExternalStore(subscribeVault, vaultState, vaultState);
}

/** Whose store is open, or null. */
export function openVaultUserId(): string | null {
  return session?.userId ?? null;
}

export const vaultDatabaseName = (userId: string) => `bulwark-vault-${userId}`;
const wrappingContext = (userId: string, wrappingId: string) =>
  `bulwark offline vault v1 wrapping\0user:${userId}\0${wrappingId}`;
const recordAad = (userId: string, name: string) =>
  `bulwark offline vault v1 record\0user:${userId}\0name:${name}`;
const nameAad = (userId: string, id: string) =>
  `bulwark offline vault v1 record-name\0user:${userId}\0id:${id}`;
const prfWrappingId = (credentialId: string) => `prf:${credentialId}` as const;

function serialize<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

async function openDatabase(userId: string): Promise<VaultDb> {
  let db: VaultDb | null = null;
  // Another tab deleting or upgrading the store: let go at once, locked.
  const release = () => {
    if (db && session?.db === db) closeVault();
    else db?.close();
  };
  db = await openDB<VaultSchema>(vaultDatabaseName(userId), 1, {
    upgrade(database) {
      const records = database.createObjectStore('records', { keyPath: 'id' });
      records.createIndex('ns', 'ns');
      database.createObjectStore('wrappings', { keyPath: 'id' });
    },
    blocking: release,
    terminated: release,
  });
  return db;
}

/** What a locked store can tell without a key: whether it exists and how it opens. */
export interface VaultInfo {
  exists: boolean;
  credentialIds: string[];
  hasPassphrase: boolean;
}

export async function vaultInfo(userId: string): Promise<VaultInfo> {
  const db = session?.userId === userId ? session.db : await openDatabase(userId);
  try {
    const rows = await db.getAll('wrappings');
    return {
      exists: rows.length > 0,
      credentialIds: rows.flatMap((row) => (row.kind === 'prf' ? [row.id.slice(4)] : [])),
      hasPassphrase: rows.some((row) => row.kind === 'passphrase'),
    };
  } finally {
    if (session?.db !== db) db.close();
  }
}

async function buildPrfWrapping(
  keys: VaultKeys,
  userId: string,
  credentialId: string,
  prfSecret: Uint8Array,
): Promise<{ row: WrappingRow; kek: CryptoKey }> {
  const id = prfWrappingId(credentialId);
  const salt = randomBytes(32);
  const kek = await kekFromPrf(prfSecret, salt, userId, credentialId);
  const wrapped = await wrapVaultKeys(keys, kek, wrappingContext(userId, id));
  return { row: { id, kind: 'prf', salt, keys: wrapped }, kek };
}

async function buildPassphraseWrapping(
  keys: VaultKeys,
  userId: string,
  passphrase: string,
): Promise<{ row: WrappingRow; kek: CryptoKey }> {
  if (passphrase.normalize('NFC').length < MIN_PASSPHRASE_LENGTH)
    throw new VaultOpenError('weak-passphrase');
  const salt = randomBytes(32);
  const kek = await kekFromPassphrase(passphrase, salt, PBKDF2_ITERATIONS);
  const wrapped = await wrapVaultKeys(keys, kek, wrappingContext(userId, 'passphrase'));
  return {
    row: {
      id: 'passphrase',
      kind: 'passphrase',
      salt,
      iterations: PBKDF2_ITERATIONS,
      keys: wrapped,
    },
    kek,
  };
}

async function kekFor(row: WrappingRow, userId: string, secret: Uint8Array | string) {
  if (row.kind === 'prf') {
    if (typeof secret === 'string') throw new VaultOpenError('wrong-secret');
    return kekFromPrf(secret, row.salt, userId, row.id.slice(4));
  }
  if (typeof secret !== 'string') throw new VaultOpenError('wrong-secret');
  return kekFromPassphrase(secret, row.salt, row.iterations);
}

/** Unwrap a stored wrapping; a wrong secret (or a tampered row) is `wrong-secret`. */
async function unwrapRow(
  row: WrappingRow,
  userId: string,
  secret: Uint8Array | string,
  extractable: boolean,
): Promise<{ keys: VaultKeys; kek: CryptoKey }> {
  try {
    const kek = await kekFor(row, userId, secret);
    const keys = await unwrapVaultKeys(row.keys, kek, wrappingContext(userId, row.id), extractable);
    return { keys, kek };
  } catch (error) {
    if (error instanceof VaultOpenError) throw error;
    throw new VaultOpenError('wrong-secret', { cause: error });
  }
}

export interface OpenOptions {
  /** Create the store when this account has none here (default true). */
  create?: boolean;
}

type Secret =
  | { kind: 'prf'; credentialId: string; prfSecret: Uint8Array }
  | { kind: 'passphrase'; passphrase: string };

async function openWith(userId: string, secret: Secret, options: OpenOptions): Promise<void> {
  const wrappingId = secret.kind === 'prf' ? prfWrappingId(secret.credentialId) : 'passphrase';
  const value = secret.kind === 'prf' ? secret.prfSecret : secret.passphrase;

  if (session && session.userId === userId) {
    // Already open: check this secret, or give it a wrapping of its own.
    const row = await session.db.get('wrappings', wrappingId);
    if (row) await unwrapRow(row, userId, value, false);
    else if (secret.kind === 'prf') await addPrfWrapping(secret.credentialId, secret.prfSecret);
    else await setOfflinePassphrase(secret.passphrase);
    return;
  }
  closeVault();

  const db = await openDatabase(userId);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const row = await db.get('wrappings', wrappingId);
      if (row) {
        const { keys, kek } = await unwrapRow(row, userId, value, false);
        session = { userId, db, keys, unlock: { kek, row } };
        notify();
        return;
      }
      if ((await db.count('wrappings')) > 0)
        throw new VaultOpenError(secret.kind === 'prf' ? 'unknown-passkey' : 'no-passphrase');
      if (options.create === false) throw new VaultOpenError('no-vault');

      // First open: fresh keys, wrapped; the extractable originals are dropped here.
      const fresh = await generateVaultKeys();
      const built =
        secret.kind === 'prf'
          ? await buildPrfWrapping(fresh, userId, secret.credentialId, secret.prfSecret)
          : await buildPassphraseWrapping(fresh, userId, secret.passphrase);
      // Check-and-create in one transaction, so two tabs cannot each make a store.
      const tx = db.transaction(['wrappings', 'records'], 'readwrite');
      const created = (await tx.objectStore('wrappings').count()) === 0;
      if (created) {
        // Records without any wrapping can never be read again: clear them.
        await tx.objectStore('records').clear();
        await tx.objectStore('wrappings').put(built.row);
      }
      await tx.done;
      // Next round opens the wrapping just stored (or the one another tab stored first).
    }
    throw new VaultOpenError('wrong-secret');
  } catch (error) {
    if (session?.db !== db) db.close();
    throw error;
  }
}

/**
 * Open (creating on first use) this user's store with a PRF secret from
 * their passkey. If the store is already open for this user and the passkey
 * is new, it is given a wrapping too. A locked store this passkey has no
 * wrapping for fails with `VaultOpenError('unknown-passkey')`.
 */
export async function openVaultWithPrf(
  userId: string,
  credentialId: string,
  prfSecret: Uint8Array,
  options: OpenOptions = {},
): Promise<void> {
  return serialize(() => openWith(userId, { kind: 'prf', credentialId, prfSecret }, options));
}

/** The fallback when the authenticator has no PRF: a passphrase (≥ 12 characters to create). */
export async function openVaultWithPassphrase(
  userId: string,
  passphrase: string,
  options: OpenOptions = {},
): Promise<void> {
  return serialize(() => openWith(userId, { kind: 'passphrase', passphrase }, options));
}

/** Re-wrap the open store's keys under a new KEK (extractable only for this moment). */
async function addWrapping(
  build: (keys: VaultKeys, userId: string) => Promise<{ row: WrappingRow }>,
): Promise<void> {
  const current = session;
  if (!current) throw new VaultLockedError();
  const { row, kek } = current.unlock;
  const keys = await unwrapVaultKeys(row.keys, kek, wrappingContext(current.userId, row.id), true);
  const built = await build(keys, current.userId);
  if (session !== current) throw new VaultLockedError();
  await current.db.put('wrappings', built.row);
}

/** Let another passkey open this (open) store. */
export async function addPrfWrapping(credentialId: string, prfSecret: Uint8Array): Promise<void> {
  return addWrapping((keys, userId) => buildPrfWrapping(keys, userId, credentialId, prfSecret));
}

/** Set or replace the offline passphrase of this (open) store. */
export async function setOfflinePassphrase(passphrase: string): Promise<void> {
  return addWrapping((keys, userId) => buildPassphraseWrapping(keys, userId, passphrase));
}

/** Stop a passkey or the passphrase from opening this store (the last way in is kept). */
export async function removeWrapping(
  which: { credentialId: string } | 'passphrase',
): Promise<void> {
  const current = session;
  if (!current) throw new VaultLockedError();
  const id = which === 'passphrase' ? 'passphrase' : prfWrappingId(which.credentialId);
  const tx = current.db.transaction('wrappings', 'readwrite');
  if ((await tx.store.count()) > 1) await tx.store.delete(id);
  await tx.done;
}

/** Drop every key from memory; the data stays, sealed. */
export function closeVault(): void {
  const current = session;
  if (!current) return;
  session = null;
  current.db.close();
  notify();
}

/** Delete this user's offline copy on this device (changes never sent are lost). */
export async function resetVault(userId: string): Promise<void> {
  return serialize(async () => {
    if (session?.userId === userId) closeVault();
    await deleteDB(vaultDatabaseName(userId));
  });
}

/**
 * After a sign-in: remember the credential id for offline start and keep the
 * person's profile inside the store, so the offline start can show them.
 */
export async function rememberDevice(me: Me, credentialId: string): Promise<void> {
  rememberCredential(me.user.id, credentialId);
  if (session?.userId !== me.user.id) return;
  // Never rejects (callers may not await it): a lost race with a lock only
  // means the profile is saved at the next sign-in.
  await vault.put('me', me).catch((error: unknown) => {
    if (!(error instanceof VaultLockedError)) console.warn('offline profile not saved', error);
  });
}

/** Run against the open store; a close in the middle reads as locked, not as a stray error. */
async function withSession<T>(task: (current: Session) => Promise<T>): Promise<T> {
  const current = session;
  if (!current) throw new VaultLockedError();
  try {
    const result = await task(current);
    if (session !== current) throw new VaultLockedError();
    return result;
  } catch (error) {
    if (session !== current) throw new VaultLockedError();
    throw error;
  }
}

/**
 * The first segment of a name, up to the first ':' or '/' ('outbox:1' and
 * 'chat/device/x' → 'outbox', 'chat'). A prefix containing a separator has
 * the same first segment as every name it matches, so `list` can read that
 * namespace's rows alone.
 */
function namespaceOf(name: string): string | null {
  const at = name.search(/[:/]/);
  return at === -1 ? null : name.slice(0, at);
}

export const vault = {
  /** The value stored under `key`, undefined when there is none; throws on tampering. */
  async get<T>(key: string): Promise<T | undefined> {
    return withSession(async ({ db, keys, userId }) => {
      const id = await opaqueId(keys.nameKey, 'record', key);
      const row = await db.get('records', id);
      if (!row) return undefined;
      const plaintext = await open(keys.dek, recordAad(userId, key), row, 'a record');
      try {
        return JSON.parse(fromUtf8(plaintext)) as T;
      } catch (error) {
        throw new VaultCorruptError('a record', { cause: error });
      }
    });
  },

  async put(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError(`vault.put(${key}): the value is not JSON`);
    return withSession(async ({ db, keys, userId }) => {
      const [id, ns] = await Promise.all([
        opaqueId(keys.nameKey, 'record', key),
        opaqueId(keys.nameKey, 'namespace', namespaceOf(key) ?? key),
      ]);
      const [body, name] = await Promise.all([
        seal(keys.dek, recordAad(userId, key), utf8(json)),
        seal(keys.dek, nameAad(userId, id), utf8(key)),
      ]);
      if (session?.db !== db) throw new VaultLockedError();
      await db.put('records', {
        id,
        ns,
        iv: body.iv,
        data: body.data,
        nameIv: name.iv,
        name: name.data,
      });
    });
  },

  async delete(key: string): Promise<void> {
    return withSession(async ({ db, keys }) => {
      const id = await opaqueId(keys.nameKey, 'record', key);
      if (session?.db !== db) throw new VaultLockedError();
      await db.delete('records', id);
    });
  },

  /** The whole names starting with `prefix`, sorted; a prefix with ':' or '/' reads only its namespace. */
  async list(prefix: string): Promise<string[]> {
    return withSession(async ({ db, keys, userId }) => {
      const namespace = namespaceOf(prefix);
      const rows =
        namespace === null
          ? await db.getAll('records')
          : await db.getAllFromIndex(
              'records',
              'ns',
              await opaqueId(keys.nameKey, 'namespace', namespace),
            );
      const names = await Promise.all(
        rows.map(async (row) => {
          const name = fromUtf8(
            await open(
              keys.dek,
              nameAad(userId, row.id),
              { iv: row.nameIv, data: row.name },
              'a record name',
            ),
          );
          // The name must also be the one the id was made from: a row copied
          // under another id with its name cannot pass for that name.
          if ((await opaqueId(keys.nameKey, 'record', name)) !== row.id)
            throw new VaultCorruptError('a record name');
          return name;
        }),
      );
      return names.filter((name) => name.startsWith(prefix)).sort();
    });
  },
};
