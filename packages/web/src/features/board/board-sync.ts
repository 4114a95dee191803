/**
 * Boards in this tab: the last snapshot from the server (or, when it cannot
 * be reached, from the encrypted vault), the edits not yet confirmed, and
 * the outbox sender that delivers them as board operations.
 *
 * An edit is applied to the screen at once (optimistic), queued in the
 * outbox, and kept here until a board fetched *after* the server answered
 * replaces it, so a card never jumps back while its move is in flight.
 */
import { useCallback, useSyncExternalStore } from 'react';
import { ApiError, api, NetworkError, seg } from '../../api/client.ts';
import {
  enqueue,
  flushOutbox,
  type OutboxItem,
  registerSender,
  type SendOutcome,
} from '../../offline/outbox.ts';
import { VaultLockedError, vault } from '../../offline/vault.ts';
import {
  type Board,
  type BoardOp,
  ClientClock,
  isBoardOpsPayload,
  type OpFactory,
  type OpResult,
  outcomeOf,
  stampsOf,
  warningsOf,
} from './board-model.ts';

export interface Member {
  userId: string;
  displayName: string;
  username: string | null;
  role: string;
  kind: string;
}

interface LocalEdit {
  op: BoardOp;
  projectId: string;
  /** Set when the server answered: the edit stays shown until a later fetch. */
  settledAfterFetch: number | null;
}

export interface BoardState {
  board: Board | null;
  members: Member[];
  /** When the shown snapshot was taken (ISO). */
  savedAt: string | null;
  /** The snapshot is the vault's copy: the server could not be reached. */
  offline: boolean;
  loading: boolean;
  error: unknown;
  /** Edits made here and not yet replaced by a fetched board. */
  local: BoardOp[];
  /** Edits made here not yet answered by the server. */
  unsent: ReadonlySet<string>;
  /** The server's warnings on our last edits (WIP limit, blocks cycle). */
  warnings: string[];
}

interface Entry {
  state: BoardState;
  listeners: Set<() => void>;
  fetches: number;
  inFlight: Promise<void> | null;
  again: boolean;
  refreshTimer: ReturnType<typeof setTimeout> | null;
}

const EMPTY: BoardState = {
  board: null,
  members: [],
  savedAt: null,
  offline: false,
  loading: false,
  error: null,
  local: [],
  unsent: new Set(),
  warnings: [],
};

const entries = new Map<string, Entry>();
const edits: LocalEdit[] = [];

function entry(projectId: string): Entry {
  let found = entries.get(projectId);
  if (!found) {
    found = {
      state: EMPTY,
      listeners: new Set(),
      fetches: 0,
      inFlight: null,
      again: false,
      refreshTimer: null,
    };
    entries.set(projectId, found);
  }
  return found;
}

function update(projectId: string, change: Partial<BoardState>) {
  const e = entry(projectId);
  const mine = edits.filter((x) => x.projectId === projectId);
  e.state = {
    ...e.state,
    ...change,
    local: mine.map((x) => x.op),
    unsent: new Set(mine.filter((x) => x.settledAfterFetch === null).map((x) => x.op.issueId)),
  };
  for (const listener of e.listeners) listener();
}

// --- the clock and op ids ---

let clock: ClientClock | null = null;
const tabId = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) =>
  b.toString(36).padStart(2, '0'),
).join('');

/** Stamps for the signed-in person: node `<userId>_<tab>` (the server refuses any other node). */
export function opFactory(userId: string): OpFactory {
  const node = `${userId}_${tabId}`.slice(0, 64);
  if (!clock || clock.node !== node) clock = new ClientClock(node);
  const c = clock;
  return { opId: () => crypto.randomUUID(), hlc: () => c.now() };
}

// --- fetching ---

interface SavedBoard {
  board: Board;
  members: Member[];
  savedAt: string;
}

function isUnreachable(error: unknown): boolean {
  return (
    error instanceof NetworkError ||
    (error instanceof ApiError && (error.status === 503 || error.status >= 500))
  );
}

/** Fetch the board now (joins a fetch in flight, then fetches once more). */
export function refreshBoard(projectId: string): Promise<void> {
  const e = entry(projectId);
  if (e.inFlight) {
    e.again = true;
    return e.inFlight;
  }
  const started = ++e.fetches;
  update(projectId, { loading: true });
  e.inFlight = (async () => {
    try {
      const [board, members] = await Promise.all([
        api.get<Board>(`/v1/projects/${seg(projectId)}/board?perColumn=200`),
        api
          .get<{ members: Member[] }>(`/v1/projects/${seg(projectId)}/members`)
          .then((r) => r.members)
          .catch(() => e.state.members),
      ]);
      if (clock) for (const stamp of stampsOf(board)) clock.observe(stamp);
      const savedAt = new Date().toISOString();
      // Edits the server answered before this fetch began are in this board now.
      for (let i = edits.length - 1; i >= 0; i--) {
        const x = edits[i] as LocalEdit;
        if (
          x.projectId === projectId &&
          x.settledAfterFetch !== null &&
          started > x.settledAfterFetch
        )
          edits.splice(i, 1);
      }
      update(projectId, { board, members, savedAt, offline: false, loading: false, error: null });
      saveCopy(projectId, { board, members, savedAt });
    } catch (error) {
      if (isUnreachable(error) && (!e.state.board || e.state.offline)) {
        const copy = await readCopy(projectId);
        if (copy) {
          update(projectId, {
            board: copy.board,
            members: copy.members,
            savedAt: copy.savedAt,
            offline: true,
            loading: false,
            error,
          });
          return;
        }
      }
      update(projectId, { loading: false, error });
    } finally {
      e.inFlight = null;
      if (e.again) {
        e.again = false;
        void refreshBoard(projectId);
      }
    }
  })();
  return e.inFlight;
}

/** Refetch soon, once for a burst of live events. */
export function scheduleRefresh(projectId: string, delayMs = 150): void {
  const e = entry(projectId);
  if (e.refreshTimer) return;
  e.refreshTimer = setTimeout(() => {
    e.refreshTimer = null;
    void refreshBoard(projectId);
  }, delayMs);
}

function saveCopy(projectId: string, copy: SavedBoard) {
  vault.put(`board:${projectId}`, copy).catch((error: unknown) => {
    // Locked (no passkey PRF yet): this device keeps no copy, by design.
    if (!(error instanceof VaultLockedError)) console.warn('board not saved offline', error);
  });
}

async function readCopy(projectId: string): Promise<SavedBoard | undefined> {
  try {
    const copy = await vault.get<SavedBoard>(`board:${projectId}`);
    return copy?.board ? copy : undefined;
  } catch {
    return undefined;
  }
}

export function useBoardState(projectId: string): BoardState {
  const e = entry(projectId);
  const subscribe = useCallback(
    (listener: () => void) => {
      const current = entry(projectId);
      current.listeners.add(listener);
      if (!current.state.board && !current.inFlight) void refreshBoard(projectId);
      return () => {
        current.listeners.delete(listener);
      };
    },
    [projectId],
  );
  return useSyncExternalStore(
    subscribe,
    () => e.state,
    () => e.state,
  );
}

// --- sending ---

function settle(projectId: string, ops: readonly BoardOp[], warnings: string[] = []) {
  const e = entry(projectId);
  for (const op of ops) {
    const known = edits.find((x) => x.op.opId === op.opId);
    if (known) known.settledAfterFetch = e.fetches;
    else edits.push({ op, projectId, settledAfterFetch: e.fetches });
  }
  update(projectId, warnings.length > 0 ? { warnings } : {});
  scheduleRefresh(projectId, 0);
}

function drop(projectId: string, ops: readonly BoardOp[]) {
  const ids = new Set(ops.map((o) => o.opId));
  for (let i = edits.length - 1; i >= 0; i--)
    if (ids.has((edits[i] as LocalEdit).op.opId)) edits.splice(i, 1);
  update(projectId, {});
}

/** Errors the outbox must retry later (offline, sealed, signed out, busy): thrown. */
function retryLater(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  if (!(error instanceof ApiError)) return true;
  return (
    error.status === 401 ||
    error.status === 429 ||
    error.status >= 500 ||
    error.code === 'step_up_required' ||
    error.code === 'policy_unsatisfied'
  );
}

async function sendOps(projectId: string, ops: BoardOp[]): Promise<SendOutcome> {
  let results: OpResult[];
  try {
    ({ results } = await api.post<{ results: OpResult[] }>(
      `/v1/projects/${seg(projectId)}/ops`,
      { ops },
      // Never a passkey prompt from a background send.
      { stepUp: false },
    ));
  } catch (error) {
    if (retryLater(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    settle(projectId, ops);
    return error instanceof ApiError && error.status === 409
      ? { status: 'conflict', message }
      : { status: 'failed', message: `The server refused these changes: ${message}` };
  }
  settle(projectId, ops, warningsOf(results));
  return outcomeOf(ops, results);
}

let registered = false;

/** Registers the outbox's 'board.ops' sender; call once at start-up (later calls do nothing). */
export function registerBoardSender(): void {
  if (registered) return;
  registered = true;
  registerSender('board.ops', async (item: OutboxItem) => {
    if (!isBoardOpsPayload(item.payload))
      return { status: 'failed', message: 'This queued change is damaged and cannot be sent.' };
    return sendOps(item.payload.projectId, item.payload.ops);
  });
}

/**
 * Apply edits here at once and queue them for the server. Rejects only when
 * the change could neither be queued nor sent (the screen then shows why and
 * the optimistic change is undone).
 */
export async function submitBoardOps(
  projectId: string,
  ops: BoardOp[],
  label: string,
): Promise<void> {
  if (ops.length === 0) return;
  for (const op of ops) edits.push({ op, projectId, settledAfterFetch: null });
  update(projectId, { warnings: [] });
  try {
    await enqueue({ kind: 'board.ops', scope: projectId, label, payload: { projectId, ops } });
  } catch {
    // No outbox (the offline store is locked): send now, or say it did not happen.
    let outcome: SendOutcome;
    try {
      outcome = await sendOps(projectId, ops);
    } catch (error) {
      drop(projectId, ops);
      throw error instanceof NetworkError
        ? new Error(
            'Not saved: the server cannot be reached and this device’s offline store is locked, so the change could not be queued.',
          )
        : error;
    }
    if (outcome.status !== 'sent') throw new Error(outcome.message);
    return;
  }
  flushOutbox().catch(() => {
    // The outbox retries on its own schedule.
  });
}
