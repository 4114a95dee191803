/**
 * What the board screens show: the snapshot with every unconfirmed edit
 * applied (ours in this tab, and what waits in the outbox, also from an
 * earlier visit), which cards have a queued change, and which a refused one.
 */
import { useMemo } from 'react';
import { useOutbox } from '../../offline/outbox.ts';
import { applyOps, type Board, type BoardOp, pendingFromOutbox } from './board-model.ts';
import { type BoardState, useBoardState } from './board-sync.ts';

export interface BoardView extends BoardState {
  /** The board as it will be once the pending edits are in. */
  view: Board | null;
  pending: BoardOp[];
  queued: ReadonlySet<string>;
  refused: ReadonlyMap<string, string>;
}

export function useBoard(projectId: string, me: string): BoardView {
  const state = useBoardState(projectId);
  const outbox = useOutbox();
  return useMemo(() => {
    const fromOutbox = pendingFromOutbox(outbox, projectId);
    const seen = new Set(state.local.map((op) => op.opId));
    const pending = [...state.local, ...fromOutbox.ops.filter((op) => !seen.has(op.opId))].sort(
      (a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : 0),
    );
    const queued = new Set([...state.unsent, ...fromOutbox.queued]);
    return {
      ...state,
      view: state.board ? applyOps(state.board, pending, me) : null,
      pending,
      queued,
      refused: fromOutbox.refused,
    };
  }, [state, outbox, projectId, me]);
}
