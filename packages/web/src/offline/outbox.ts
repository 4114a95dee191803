/**
 * Changes made offline (board operations, chat messages) wait here, in the
 * encrypted store, until a registered sender delivers them.
 *
 * Invariants:
 * - Nothing acknowledged is lost: `enqueue` resolves only once the item is
 *   sealed in the vault, and an item is deleted only after its sender said
 *   `sent` (or the person discarded it).
 * - Order within a scope: items of one scope (a project's board, a channel)
 *   go one at a time in creation order; an item held back (conflict,
 *   failure, no sender yet) holds back the later items of its scope only.
 * - Never twice at once: one flush at a time per tab, and across tabs a Web
 *   Lock per user; each item is re-read from the vault before it is sent, so
 *   an item another tab already delivered is not sent again.
 * - A crash between "sent" and the deletion sends the item again after the
 *   next load: senders must be idempotent (use `item.id` as the operation or
 *   message id; board operations are applied once by id on the server).
 */
import { useSyncExternalStore } from 'react';
import { ApiError, NetworkError } from '../api/client.ts';
import { getAppStatus, subscribeAppStatus } from '../app/status.ts';
import { openVaultUserId, subscribeVault, VaultLockedError, vault } from './vault.ts';

export type OutboxKind = 'board.ops' | 'chat.message';

export interface OutboxItem {
  id: string;
  kind: OutboxKind;
  /** Where it belongs, for the UI: a project id. */
  scope: string;
  /** A short description for the person ("Move BUL-3 to Done"). */
  label: string;
  payload: unknown;
  createdAt: string;
  attempts: number;
  state: 'queued' | 'sending' | 'conflict' | 'failed';
  /** The server's words when it refused the item (conflict or failure). */
  problem: string | null;
}

export type SendOutcome = { status: 'sent' } | { status: 'conflict' | 'failed'; message: string };
export type OutboxSender = (item: OutboxItem) => Promise<SendOutcome>;

/** What is sealed in the vault under `outbox:<id>`. */
interface StoredItem {
  v: 1;
  /** Creation order (items sort by it, then by id). */
  seq: number;
  item: OutboxItem;
}

interface Entry {
  seq: number;
  item: OutboxItem;
}

/** Time and timers, swappable by tests. */
export interface OutboxClock {
  now: () => number;
  setTimeout: (run: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  random: () => number;
}

const defaultClock: OutboxClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => globalThis.setTimeout(run, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};

const keyPrefix = 'outbox:';
const storageKey = (id: string) => `${keyPrefix}${id}`;
const baseDelayMs = 1000;
const maxDelayMs = 60_000;

let clock: OutboxClock = defaultClock;
let entries: Entry[] = [];
let snapshot: readonly OutboxItem[] = [];
let nextSeq = 0;
/** The user whose vault the entries were loaded from; null before a load or after a lock. */
let loadedFor: string | null = null;
let loading: Promise<void> | null = null;
const senders = new Map<OutboxKind, OutboxSender>();
const listeners = new Set<() => void>();

let flushing: Promise<void> | null = null;
let flushAgain = false;
let backoffAttempt = 0;
let retryTimer: { handle: unknown } | null = null;
let stopWatching: (() => void) | null = null;
let channel: BroadcastChannel | null = null;

export function configureOutbox(options: { clock?: Partial<OutboxClock> }): void {
  clock = { ...defaultClock, ...options.clock };
}

function publish(): void {
  snapshot = entries.map((entry) => entry.item);
  for (const listener of listeners) listener();
}

export function subscribeOutbox(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function outboxItems(): readonly OutboxItem[] {
  return snapshot;
}

export function useOutbox(): OutboxItem[] {
  return useSyncExternalStore(subscribeOutbox, outboxItems, outboxItems) as OutboxItem[];
}

function sortEntries(list: Entry[]): Entry[] {
  return list.sort((a, b) => a.seq - b.seq || (a.item.id < b.item.id ? -1 : 1));
}

function isStoredItem(value: unknown): value is StoredItem {
  const stored = value as Partial<StoredItem> | null;
  const item = stored?.item as Partial<OutboxItem> | undefined;
  return (
    stored?.v === 1 &&
    typeof stored.seq === 'number' &&
    typeof item?.id === 'string' &&
    typeof item.kind === 'string' &&
    typeof item.scope === 'string' &&
    typeof item.label === 'string'
  );
}

async function persist(entry: Entry): Promise<void> {
  // 'sending' is never stored: after a reload the item is simply queued again.
  const item =
    entry.item.state === 'sending' ? { ...entry.item, state: 'queued' as const } : entry.item;
  await vault.put(storageKey(item.id), { v: 1, seq: entry.seq, item } satisfies StoredItem);
}

/** Tell other tabs of this user that the outbox changed, so their lists stay true. */
function announce(): void {
  try {
    channel?.postMessage({ type: 'outbox-changed', userId: loadedFor });
  } catch {
    // A closed channel: nothing to tell.
  }
}

function watch(): void {
  if (stopWatching) return;
  let previous = getAppStatus();
  const unsubscribeStatus = subscribeAppStatus(() => {
    const current = getAppStatus();
    const recovered =
      (previous.connectivity === 'offline' && current.connectivity === 'online') ||
      (previous.sealed && !current.sealed) ||
      (previous.sessionEnded && !current.sessionEnded);
    previous = current;
    if (recovered) retryNow();
  });
  // Locked: drop the items from memory (their labels are content) and stop.
  const unsubscribeVault = subscribeVault(() => {
    if (loadedFor !== null && openVaultUserId() !== loadedFor) forget();
  });
  const online = () => retryNow();
  globalThis.addEventListener?.('online', online);
  if (typeof BroadcastChannel !== 'undefined') {
    channel = new BroadcastChannel('bulwark-outbox');
    channel.onmessage = (event: MessageEvent<{ type?: string; userId?: string }>) => {
      if (event.data?.type === 'outbox-changed' && event.data.userId === loadedFor)
        void loadOutbox().catch(() => undefined);
    };
  }
  stopWatching = () => {
    unsubscribeStatus();
    unsubscribeVault();
    globalThis.removeEventListener?.('online', online);
    channel?.close();
    channel = null;
  };
}

function forget(): void {
  cancelRetry();
  entries = [];
  loadedFor = null;
  backoffAttempt = 0;
  publish();
}

/**
 * Stop watching the connection and forget the items in memory (they stay in
 * the vault). For sign-out and for tests; `loadOutbox()` starts again.
 */
export function stopOutbox(): void {
  stopWatching?.();
  stopWatching = null;
  forget();
}

/**
 * (Re)read the outbox from the open vault — call after opening it. Items
 * being sent right now keep their in-memory state; a flush follows.
 */
export async function loadOutbox(): Promise<OutboxItem[]> {
  const userId = openVaultUserId();
  if (!userId) throw new VaultLockedError();
  watch();
  const load = (async () => {
    const names = await vault.list(keyPrefix);
    const loaded: Entry[] = [];
    for (const name of names) {
      const stored = await vault.get<unknown>(name);
      if (!isStoredItem(stored)) continue;
      const item =
        stored.item.state === 'sending'
          ? { ...stored.item, state: 'queued' as const }
          : stored.item;
      loaded.push({ seq: stored.seq, item });
    }
    if (openVaultUserId() !== userId) throw new VaultLockedError();
    const inFlight = loadedFor === userId ? entries.filter((e) => e.item.state === 'sending') : [];
    entries = sortEntries(
      loaded.map((entry) => inFlight.find((e) => e.item.id === entry.item.id) ?? entry),
    );
    nextSeq = Math.max(nextSeq, ...entries.map((e) => e.seq + 1));
    loadedFor = userId;
    publish();
  })();
  loading = load;
  try {
    await load;
  } finally {
    if (loading === load) loading = null;
  }
  void flushOutbox();
  return [...snapshot];
}

async function ensureLoaded(): Promise<void> {
  const userId = openVaultUserId();
  if (!userId) throw new VaultLockedError();
  if (loading) await loading.catch(() => undefined);
  if (loadedFor !== userId) await loadOutbox();
}

/** A sender for one kind of item; returns a function that removes it again. */
export function registerSender(kind: OutboxKind, send: OutboxSender): () => void {
  senders.set(kind, send);
  if (entries.some((e) => e.item.kind === kind && e.item.state === 'queued')) void flushOutbox();
  return () => {
    if (senders.get(kind) === send) senders.delete(kind);
  };
}

/**
 * Keep a change to send later. Resolves once it is sealed in the vault
 * (throws VaultLockedError when the vault is locked: "unlock to work
 * offline"), then a flush is started.
 */
export async function enqueue(
  fields: Pick<OutboxItem, 'kind' | 'scope' | 'label' | 'payload'>,
): Promise<OutboxItem> {
  await ensureLoaded();
  const now = clock.now();
  // Creation order across tabs too: time first (in µs), a counter within a tick.
  const seq = Math.max(nextSeq, now * 1000);
  nextSeq = seq + 1;
  const item: OutboxItem = {
    id: crypto.randomUUID(),
    kind: fields.kind,
    scope: fields.scope,
    label: fields.label,
    payload: fields.payload,
    createdAt: new Date(now).toISOString(),
    attempts: 0,
    state: 'queued',
    problem: null,
  };
  const entry = { seq, item };
  await persist(entry);
  entries = sortEntries([...entries, entry]);
  publish();
  announce();
  void flushOutbox();
  return item;
}

function findEntry(id: string): Entry {
  const entry = entries.find((e) => e.item.id === id);
  if (!entry) throw new Error('That change is no longer waiting.');
  return entry;
}

function replace(entry: Entry, item: OutboxItem): Entry {
  const next = { seq: entry.seq, item };
  entries = entries.map((e) => (e === entry ? next : e));
  return next;
}

/** Send a held-back item (conflict or failure) again, in its place in the order. */
export async function retryItem(id: string): Promise<void> {
  const entry = findEntry(id);
  if (entry.item.state === 'sending' || entry.item.state === 'queued') return;
  const next = replace(entry, { ...entry.item, state: 'queued', problem: null });
  await persist(next);
  publish();
  announce();
  cancelRetry();
  backoffAttempt = 0;
  await flushOutbox();
}

/** Drop an item for good (the person decided); the rest of its scope can go on. */
export async function discardItem(id: string): Promise<void> {
  const entry = findEntry(id);
  if (entry.item.state === 'sending')
    throw new Error('That change is being sent right now; wait a moment and try again.');
  await vault.delete(storageKey(id));
  entries = entries.filter((e) => e.item.id !== id);
  publish();
  announce();
  void flushOutbox();
}

/** Errors that say "not now" rather than "not this": wait and try again. */
function isTransient(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  if (error instanceof ApiError)
    return (
      // The person must act (confirm presence, sign in as policy says); then it goes.
      error.code === 'step_up_required' ||
      error.code === 'policy_unsatisfied' ||
      error.status === 401 ||
      error.status === 408 ||
      error.status === 429 ||
      error.status === 503 ||
      error.status >= 500
    );
  return false;
}

function cancelRetry(): void {
  if (retryTimer) clock.clearTimeout(retryTimer.handle);
  retryTimer = null;
}

/** Exponential back-off with a little jitter, capped at 60 s. */
function scheduleRetry(): void {
  cancelRetry();
  const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** backoffAttempt);
  const delay = Math.min(maxDelayMs, Math.round(exponential * (0.8 + 0.4 * clock.random())));
  backoffAttempt += 1;
  const timer = {
    handle: clock.setTimeout(() => {
      if (retryTimer === timer) retryTimer = null;
      void flushOutbox();
    }, delay),
  };
  retryTimer = timer;
}

/** The connection (or the session, or the unseal) is back: try at once. */
function retryNow(): void {
  if (!entries.some((e) => e.item.state === 'queued')) return;
  cancelRetry();
  backoffAttempt = 0;
  void flushOutbox();
}

/** Deliver what can be delivered now. Concurrent calls share one run. */
export function flushOutbox(): Promise<void> {
  if (flushing) {
    flushAgain = true;
    return flushing;
  }
  const run = (async () => {
    try {
      do {
        flushAgain = false;
        const more = await underLock(flushOnce);
        if (!more) break;
      } while (flushAgain);
    } catch (error) {
      // Flushes are started with `void`: never reject; try again later instead.
      console.warn('outbox: flush stopped', error);
      if (entries.some((e) => e.item.state === 'sending')) {
        entries = entries.map((e) =>
          e.item.state === 'sending' ? { ...e, item: { ...e.item, state: 'queued' } } : e,
        );
        publish();
      }
      if (loadedFor) scheduleRetry();
    } finally {
      flushing = null;
    }
  })();
  flushing = run;
  return run;
}

/** Across tabs of the same user, one flush at a time (Web Locks where there are any). */
async function underLock(task: () => Promise<boolean>): Promise<boolean> {
  const userId = loadedFor;
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!userId || !locks) return task();
  return locks.request(`bulwark-outbox-${userId}`, task);
}

/** One pass in order; false when it stopped for a transient error or a lock. */
async function flushOnce(): Promise<boolean> {
  const userId = loadedFor;
  const held = new Set<string>(); // scopes with an earlier item held back
  for (;;) {
    if (!userId || openVaultUserId() !== userId || loadedFor !== userId) return false;
    const entry = entries.find((e) => !held.has(e.item.scope));
    if (!entry) return true;
    const sender = senders.get(entry.item.kind);
    if (entry.item.state !== 'queued' || !sender) {
      held.add(entry.item.scope);
      continue;
    }
    // Claim it before any await: retry/discard leave a 'sending' item alone.
    let current = replace(entry, { ...entry.item, state: 'sending' });
    publish();
    try {
      // Another tab may have delivered (and deleted) it meanwhile.
      if ((await vault.get(storageKey(current.item.id))) === undefined) {
        entries = entries.filter((e) => e.item.id !== current.item.id);
        publish();
        continue;
      }
    } catch (error) {
      if (error instanceof VaultLockedError) {
        // Locked: the list is gone with it (or, if not, the item waits again).
        if (loadedFor === userId) replace(current, { ...current.item, state: 'queued' });
        publish();
        return false;
      }
      // A damaged record: hold it for the person to decide, with the reason.
      current = replace(current, {
        ...current.item,
        state: 'failed',
        problem: error instanceof Error ? error.message : String(error),
      });
      publish();
      held.add(current.item.scope);
      continue;
    }

    let outcome: SendOutcome;
    try {
      outcome = await sender(current.item);
    } catch (error) {
      // The sender needed the vault and it locked: later, like a network failure.
      if (isTransient(error) || error instanceof VaultLockedError) {
        current = replace(current, {
          ...current.item,
          state: 'queued',
          attempts: current.item.attempts + 1,
        });
        publish();
        await persist(current).catch(() => undefined);
        scheduleRetry();
        return false;
      }
      outcome = {
        status: error instanceof ApiError && error.status === 409 ? 'conflict' : 'failed',
        message: error instanceof Error ? error.message : String(error),
      };
    }
    if (loadedFor !== userId) return false; // locked while sending: the item stays in the vault

    backoffAttempt = 0;
    if (outcome.status === 'sent') {
      try {
        await vault.delete(storageKey(current.item.id));
      } catch (error) {
        // Sent but not deleted (locked meanwhile): it will be sent again after
        // unlocking, which idempotent senders absorb. Never drop it unsaved.
        if (error instanceof VaultLockedError) return false;
        throw error;
      }
      entries = entries.filter((e) => e.item.id !== current.item.id);
      publish();
      announce();
      continue;
    }
    current = replace(current, {
      ...current.item,
      state: outcome.status,
      problem: outcome.message,
      attempts: current.item.attempts + 1,
    });
    publish();
    await persist(current).catch(() => undefined);
    announce();
    held.add(current.item.scope);
  }
}
