/**
 * Audit proofs checked in the browser: leaf hashes recomputed from the
 * entries' canonical JSON, RFC 9162 inclusion proofs against a signed
 * checkpoint, the checkpoint's Ed25519 signature against the ledger key
 * pinned on this device, and consistency with the last head seen here.
 *
 * The algorithms are @bulwark/ledger's (its browser entry: no node:crypto);
 * Ed25519 is WebCrypto's. Trust on first use: the first ledger key this
 * browser sees is pinned in localStorage, and a different key later is a
 * failure, as is a signed head that does not extend the last one verified
 * here. Nothing in this module imports React (it runs under node:test).
 */
import {
  type Checkpoint,
  canonicalJsonString,
  hashFromHex,
  leafHash,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  toHex,
  type VerifierKey,
  verifyConsistency,
  verifyInclusion,
} from '@bulwark/ledger/browser';

export interface ProvedEntry {
  seq: number;
  /** The entry as the server returned it; null when retention emptied it (counted by its leaf hash). */
  entry: unknown;
  leafHash: string;
  proof: { size: number; path: string[] };
}

export type VerifyReport =
  | {
      ok: true;
      treeSize: number;
      checked: number;
      /** Entries whose content retention emptied: checked by their leaf hash only. */
      pruned?: number;
      /** Entries newer than the signed head: not covered yet (heads are signed every 5 minutes). */
      notYetSigned?: number;
      /** True when this run pinned the ledger key on this device (first use). */
      keyPinnedNow?: boolean;
      origin?: string;
    }
  | { ok: false; problem: string; seq?: number };

/** Where the public ledger material comes from (the API by default; tests pass their own). */
export interface LedgerSource {
  key(): Promise<{ origin: string; verifierKey: string }>;
  checkpoint(): Promise<string>;
  inclusion(seq: number, size: number): Promise<string[]>;
  consistency(from: number, to: number): Promise<string[]>;
  /** Sign the current head now (installation admins only). */
  signCheckpoint?(): Promise<string>;
}

/** The part of localStorage used here. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface VerifyDeps {
  source?: LedgerSource;
  store?: KeyValueStore;
}

export const PINNED_KEY_ITEM = 'bulwark.audit.pinnedKey';
export const LAST_HEAD_ITEM = 'bulwark.audit.lastHead';

const REPORT_TO_SECURITY =
  'The audit trail may have been altered — report this to your security team.';

interface RememberedHead {
  origin: string;
  size: number;
  rootHash: string;
}

/** The API as a ledger source; loaded lazily so that this module stays free of the UI's imports. */
async function apiSource(): Promise<LedgerSource> {
  const { api } = await import('../api/client.ts');
  return {
    key: () => api.get<{ origin: string; verifierKey: string }>('/v1/audit/key'),
    checkpoint: () => api.get<string>('/v1/audit/checkpoint', { text: true }),
    inclusion: async (seq, size) =>
      (await api.get<{ proof: string[] }>(`/v1/audit/proofs/inclusion?seq=${seq}&size=${size}`))
        .proof,
    consistency: async (from, to) =>
      (await api.get<{ proof: string[] }>(`/v1/audit/proofs/consistency?from=${from}&to=${to}`))
        .proof,
    signCheckpoint: () => api.post<string>('/v1/audit/checkpoint', {}, { text: true }),
  };
}

function defaultStore(): KeyValueStore {
  if (typeof localStorage === 'undefined') {
    throw new Error('This browser keeps no local storage, so the ledger key cannot be pinned.');
  }
  return localStorage;
}

async function resolve(deps: VerifyDeps): Promise<{ source: LedgerSource; store: KeyValueStore }> {
  return { source: deps.source ?? (await apiSource()), store: deps.store ?? defaultStore() };
}

/** The ledger key pinned on this device, or null before first use. */
export function pinnedKey(store: KeyValueStore = defaultStore()): string | null {
  return store.getItem(PINNED_KEY_ITEM);
}

/** The last signed head verified in this browser, or null. */
export function lastSeenHead(store: KeyValueStore = defaultStore()): RememberedHead | null {
  const text = store.getItem(LAST_HEAD_ITEM);
  if (!text) return null;
  try {
    const head = JSON.parse(text) as Partial<RememberedHead>;
    if (
      typeof head.origin === 'string' &&
      typeof head.size === 'number' &&
      Number.isSafeInteger(head.size) &&
      typeof head.rootHash === 'string' &&
      hashFromHex(head.rootHash)
    )
      return { origin: head.origin, size: head.size, rootHash: head.rootHash };
  } catch {
    // fall through: an unreadable record is reported below
  }
  throw new Error(
    'The record of the last ledger head this browser verified is unreadable. If you did not clear it on purpose, report this to your security team.',
  );
}

/**
 * Trust on first use: pins the server's key when none is pinned, and
 * answers the pinned key (a different key from the server is a failure).
 */
async function trustedKey(
  source: LedgerSource,
  store: KeyValueStore,
): Promise<{ key: VerifierKey; text: string; pinnedNow: boolean } | { problem: string }> {
  const served = (await source.key()).verifierKey;
  const pinned = store.getItem(PINNED_KEY_ITEM);
  if (pinned !== null && pinned !== served) {
    return {
      problem: `The server now signs the ledger with a different key than the one this browser pinned when it first checked it (pinned: ${pinned}; now: ${served}). A rotated key is announced by your administrators; otherwise ${lowerFirst(REPORT_TO_SECURITY)}`,
    };
  }
  let key: VerifierKey;
  try {
    key = parseVerifierKey(pinned ?? served);
  } catch (error) {
    return { problem: `The ledger key cannot be read (${(error as Error).message}).` };
  }
  if (pinned === null) store.setItem(PINNED_KEY_ITEM, served);
  return { key, text: pinned ?? served, pinnedNow: pinned === null };
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** Ed25519 with WebCrypto; false for a malformed signature. */
async function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.byteLength !== 64) return false;
  try {
    const key = await crypto.subtle.importKey(
      'raw',
      new Uint8Array(publicKey),
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    return await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      new Uint8Array(signature),
      new Uint8Array(message),
    );
  } catch {
    return false;
  }
}

/**
 * Checks a signed checkpoint against the pinned key: every signature by
 * that key must verify (at least one must be there), and the checkpoint's
 * origin must be the key's name. Witness signatures are ignored.
 */
export async function verifySignedCheckpoint(
  checkpointText: string,
  key: VerifierKey,
): Promise<{ checkpoint: Checkpoint } | { problem: string }> {
  let note: ReturnType<typeof parseNote>;
  let checkpoint: Checkpoint;
  try {
    note = parseNote(checkpointText);
    checkpoint = parseCheckpoint(note.text);
  } catch (error) {
    return {
      problem: `The ledger's signed head could not be read (${(error as Error).message}). ${REPORT_TO_SECURITY}`,
    };
  }
  const mine = note.signatures.filter((s) => s.name === key.name && s.keyHash === key.keyHash);
  if (mine.length === 0) {
    return {
      problem: `The ledger's signed head is not signed with the ledger key pinned on this device. ${REPORT_TO_SECURITY}`,
    };
  }
  const message = new TextEncoder().encode(note.text);
  for (const signature of mine) {
    if (!(await ed25519Verify(key.publicKey, message, signature.sig))) {
      return {
        problem: `The signature on the ledger's signed head (tree size ${checkpoint.size}) is not valid: the head was changed after it was signed, or signed by someone else. ${REPORT_TO_SECURITY}`,
      };
    }
  }
  if (checkpoint.origin !== key.name) {
    return {
      problem: `The signed head names the ledger "${checkpoint.origin}", not "${key.name}". ${REPORT_TO_SECURITY}`,
    };
  }
  return { checkpoint };
}

function decodePath(path: unknown): Uint8Array[] | null {
  if (!Array.isArray(path)) return null;
  const out: Uint8Array[] = [];
  for (const item of path) {
    const hash = typeof item === 'string' ? hashFromHex(item) : null;
    if (!hash) return null;
    out.push(hash);
  }
  return out;
}

/**
 * The checkpoint must extend the last head verified in this browser (or be
 * an older head that the last one extends). Remembers the newer head.
 */
async function checkAgainstLastHead(
  checkpoint: Checkpoint,
  source: LedgerSource,
  store: KeyValueStore,
): Promise<{ problem: string } | null> {
  let last: RememberedHead | null;
  try {
    last = lastSeenHead(store);
  } catch (error) {
    return { problem: (error as Error).message };
  }
  const remember = () =>
    store.setItem(
      LAST_HEAD_ITEM,
      JSON.stringify({
        origin: checkpoint.origin,
        size: checkpoint.size,
        rootHash: toHex(checkpoint.rootHash),
      }),
    );
  if (last === null || last.origin !== checkpoint.origin) {
    remember();
    return null;
  }
  const lastRoot = hashFromHex(last.rootHash) as Uint8Array;
  const forked = {
    problem: `The ledger's signed head (size ${checkpoint.size}) does not extend the head this browser verified before (size ${last.size}): entries were removed or rewritten since. ${REPORT_TO_SECURITY}`,
  };
  if (checkpoint.size === last.size) {
    return verifyConsistency(last.size, checkpoint.size, [], lastRoot, checkpoint.rootHash)
      ? null
      : forked;
  }
  if (checkpoint.size > last.size) {
    const proof = decodePath(await source.consistency(last.size, checkpoint.size));
    if (
      !proof ||
      !verifyConsistency(last.size, checkpoint.size, proof, lastRoot, checkpoint.rootHash)
    )
      return forked;
    remember();
    return null;
  }
  // An older head than the last one seen: fine only if the newer one extends it.
  const proof = decodePath(await source.consistency(checkpoint.size, last.size));
  if (
    !proof ||
    !verifyConsistency(checkpoint.size, last.size, proof, checkpoint.rootHash, lastRoot)
  )
    return forked;
  return null;
}

/**
 * Checks entries with their inclusion proofs against a signed checkpoint:
 * the pinned key signed it, it extends the last head seen here, each
 * entry's leaf is recomputed from its canonical JSON (exactly as the server
 * hashes it) and its proof leads to the signed root. Names the first bad
 * entry in plain words.
 */
export async function verifyEntriesAgainstCheckpoint(
  entries: ProvedEntry[],
  checkpointText: string,
  deps: VerifyDeps = {},
): Promise<VerifyReport> {
  const { source, store } = await resolve(deps);
  const trusted = await trustedKey(source, store);
  if ('problem' in trusted) return { ok: false, problem: trusted.problem };
  const signed = await verifySignedCheckpoint(checkpointText, trusted.key);
  if ('problem' in signed) return { ok: false, problem: signed.problem };
  const { checkpoint } = signed;
  const history = await checkAgainstLastHead(checkpoint, source, store);
  if (history) return { ok: false, problem: history.problem };

  let pruned = 0;
  for (const item of entries) {
    const bad = (problem: string): VerifyReport => ({ ok: false, problem, seq: item.seq });
    if (!Number.isSafeInteger(item.seq) || item.seq < 0)
      return { ok: false, problem: 'An entry without a valid sequence number was returned.' };
    if (item.proof.size !== checkpoint.size)
      return bad(
        `Entry ${item.seq} came with a proof for a tree of ${item.proof.size} entries, not the signed ${checkpoint.size}.`,
      );
    if (item.seq >= checkpoint.size)
      return bad(`Entry ${item.seq} is newer than the signed head (size ${checkpoint.size}).`);
    let leaf: Uint8Array;
    if (item.entry === null || item.entry === undefined) {
      const given = hashFromHex(item.leafHash);
      if (!given) return bad(`Entry ${item.seq} has no readable leaf hash.`);
      leaf = given;
      pruned++;
    } else {
      const entry = item.entry as { seq?: unknown };
      if (typeof entry !== 'object' || entry.seq !== item.seq)
        return bad(
          `Entry ${item.seq} is not what the ledger holds at position ${item.seq}: its content names another position. ${REPORT_TO_SECURITY}`,
        );
      let text: string;
      try {
        text = canonicalJsonString(item.entry);
      } catch (error) {
        return bad(`Entry ${item.seq} is not valid ledger content (${(error as Error).message}).`);
      }
      leaf = leafHash(new TextEncoder().encode(text));
      if (toHex(leaf) !== item.leafHash.toLowerCase())
        return bad(
          `Entry ${item.seq} does not match its recorded fingerprint (leaf hash): its content was changed after it was written. ${REPORT_TO_SECURITY}`,
        );
    }
    const path = decodePath(item.proof.path);
    if (!path || !verifyInclusion(leaf, item.seq, checkpoint.size, path, checkpoint.rootHash))
      return bad(
        `Entry ${item.seq} is not in the signed ledger: its proof does not lead to the signed root. ${REPORT_TO_SECURITY}`,
      );
  }
  return {
    ok: true,
    treeSize: checkpoint.size,
    checked: entries.length,
    pruned,
    keyPinnedNow: trusted.pinnedNow,
    origin: checkpoint.origin,
  };
}

/** A page of entries as the entries routes answer them. */
export interface PageEntry {
  seq: number;
  entry: unknown;
  leafHash: string;
}

/** Runs `work` over `items`, at most `limit` at a time, keeping order. */
async function mapLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Verifies a page of entries in this browser: fetches the latest signed
 * head (or, with `signHead`, has the server sign the current one — admins
 * only) and an inclusion proof for each entry it covers, then runs
 * verifyEntriesAgainstCheckpoint. Entries newer than the head are counted
 * in `notYetSigned`.
 */
export async function verifyAuditPage(
  entries: PageEntry[],
  deps: VerifyDeps & { signHead?: boolean } = {},
): Promise<VerifyReport> {
  const { source, store } = await resolve(deps);
  let checkpointText = await source.checkpoint();
  const newest = entries.reduce((max, e) => Math.max(max, e.seq), -1);
  const sizeOf = (text: string) => {
    try {
      return parseCheckpoint(parseNote(text).text).size;
    } catch {
      return null;
    }
  };
  let size = sizeOf(checkpointText);
  if (size !== null && newest >= size && deps.signHead && source.signCheckpoint) {
    checkpointText = await source.signCheckpoint();
    size = sizeOf(checkpointText);
  }
  if (size === null) return verifyEntriesAgainstCheckpoint([], checkpointText, { source, store });
  const covered = entries.filter((e) => e.seq < (size as number));
  const proved = await mapLimited(covered, 8, async (e) => ({
    seq: e.seq,
    entry: e.entry,
    leafHash: e.leafHash,
    proof: { size: size as number, path: await source.inclusion(e.seq, size as number) },
  }));
  const report = await verifyEntriesAgainstCheckpoint(proved, checkpointText, { source, store });
  if (!report.ok) return report;
  return { ...report, notYetSigned: entries.length - covered.length };
}

/** Forget the pinned key and last head (after an announced key rotation). */
export function forgetPinnedLedger(store: KeyValueStore = defaultStore()): void {
  store.removeItem(PINNED_KEY_ITEM);
  store.removeItem(LAST_HEAD_ITEM);
}
