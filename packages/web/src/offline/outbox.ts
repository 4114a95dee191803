/**
 * INTERFACE STUB — the offline helper replaces the bodies (keep the exports).
 * Changes made offline (board operations, chat messages) wait here, in the
 * encrypted store, until a registered sender delivers them.
 */
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

export function registerSender(_kind: OutboxKind, _send: OutboxSender): () => void {
  return () => {};
}

export async function enqueue(
  _item: Pick<OutboxItem, 'kind' | 'scope' | 'label' | 'payload'>,
): Promise<OutboxItem> {
  throw new Error('outbox not implemented');
}

export async function flushOutbox(): Promise<void> {}

export function useOutbox(): OutboxItem[] {
  return [];
}
