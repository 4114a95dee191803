/**
 * A project's board: columns of cards, quick filters, new issues, and moves
 * by drag and drop (pointer, touch, keyboard) or by each card's "Move to"
 * list. Every edit is a board operation: shown at once, queued in the
 * outbox, sent when the server can be reached. Other people's edits arrive
 * over the live socket and are fetched.
 */
import {
  type Announcements,
  closestCorners,
  DndContext,
  type DragEndEvent,
  type DragOverEvent,
  type DragStartEvent,
  KeyboardSensor,
  MouseSensor,
  TouchSensor,
  useDroppable,
  useSensor,
  useSensors,
} from '@dnd-kit/core';
import {
  SortableContext,
  sortableKeyboardCoordinates,
  verticalListSortingStrategy,
} from '@dnd-kit/sortable';
import { type FormEvent, type ReactNode, useCallback, useEffect, useMemo, useState } from 'react';
import { api, seg } from '../../api/client.ts';
import { useLiveState, useProjectEvents } from '../../api/live.ts';
import { useSession } from '../../app/session.tsx';
import {
  Banner,
  Button,
  EmptyState,
  ErrorNote,
  formatDate,
  SelectField,
  Spinner,
  TextArea,
  TextField,
} from '../../ui/components.tsx';
import type { ProjectInfo } from '../project/ProjectPage.tsx';
import { BoardCard } from './BoardCard.tsx';
import {
  type Board,
  type BoardOp,
  type Column,
  containerOf,
  createOp,
  filterBoard,
  filterQuery,
  type Issue,
  indexAmong,
  isFilterEmpty,
  issueName,
  matchesQuickFilter,
  moveInOrder,
  moveOp,
  nudgeOp,
  type Order,
  orderOf,
  type QuickFilter,
} from './board-model.ts';
import {
  opFactory,
  refreshBoard,
  registerBoardSender,
  scheduleRefresh,
  submitBoardOps,
} from './board-sync.ts';
import { useBoard } from './use-board.ts';
import './board.css';

registerBoardSender();

const NO_FILTER: QuickFilter = { q: '', label: '', assignee: '' };

export default function BoardPage({ project }: { project: ProjectInfo }) {
  const { me } = useSession();
  const projectId = project.project.id;
  const canEdit = project.role !== 'viewer';
  const state = useBoard(projectId, me.user.id);
  const live = useLiveState();
  const [actionError, setActionError] = useState<unknown>(null);
  const [filter, setFilter] = useState<QuickFilter>(NO_FILTER);
  const visible = useSearch(projectId, filter, state.view, state.savedAt);

  useProjectEvents(projectId, (event) => {
    if (
      event.type === 'issues.changed' ||
      event.type === 'board.changed' ||
      event.type === 'live.resync'
    )
      scheduleRefresh(projectId);
  });

  const submit = useCallback(
    (ops: BoardOp[], label: string) => {
      setActionError(null);
      submitBoardOps(projectId, ops, label).catch(setActionError);
    },
    [projectId],
  );

  const ops = useMemo(() => opFactory(me.user.id), [me.user.id]);

  if (!state.view) {
    if (state.error) {
      return (
        <>
          <ErrorNote error={state.error} />
          <Button onClick={() => void refreshBoard(projectId)}>Try again</Button>
        </>
      );
    }
    return <Spinner label="Loading the board…" />;
  }
  const board = state.view;

  const move = (issue: Issue, columnId: string, index?: number) => {
    const target = board.columns.find((c) => c.id === columnId);
    if (!target) return;
    try {
      const at = index ?? target.issues.filter((i) => i.id !== issue.id).length;
      const op = moveOp(ops, board, issue.id, columnId, at);
      if (op) submit([op], `Move ${issueName(issue)} to ${target.name}`);
    } catch (error) {
      setActionError(error);
    }
  };
  const nudge = (issue: Issue, by: -1 | 1) => {
    try {
      const op = nudgeOp(ops, board, issue.id, by);
      if (op) submit([op], `Move ${issueName(issue)} ${by < 0 ? 'up' : 'down'}`);
    } catch (error) {
      setActionError(error);
    }
  };

  return (
    <div className="board-page">
      {state.offline ? (
        <Banner tone="warning" title="Offline copy">
          The server cannot be reached. This is the copy of the board saved on this device on{' '}
          {formatDate(state.savedAt)}. Changes you make are queued and sent when the connection
          returns.
        </Banner>
      ) : state.error ? (
        <Banner tone="warning" title="The board could not be refreshed">
          {describe(state.error)} What you see was loaded on {formatDate(state.savedAt)}.
        </Banner>
      ) : null}
      {state.warnings.length > 0 ? (
        <Banner tone="warning" title="Saved, with a warning">
          {state.warnings.join(' ')}
        </Banner>
      ) : null}
      <ErrorNote error={actionError} />
      <div className="board-toolbar">
        <Filters filter={filter} onChange={setFilter} members={state.members} />
        <div className="board-toolbar-side">
          <p className="board-live muted">
            {live === 'live'
              ? 'Live updates on'
              : live === 'reconnecting'
                ? 'Live updates paused, reconnecting…'
                : 'Connecting for live updates…'}
          </p>
          {canEdit ? (
            <NewIssue
              onCreate={(title, description) =>
                submit(
                  [createOp(ops, crypto.randomUUID(), { title, description })],
                  `Create “${title.slice(0, 60)}”`,
                )
              }
            />
          ) : null}
        </div>
      </div>
      {visible.note ? (
        <p className="muted" role="status">
          {visible.note}
        </p>
      ) : null}
      {board.columns.length === 0 ? (
        <EmptyState title="This board has no columns">
          A project admin can add columns in the project settings.
        </EmptyState>
      ) : (
        <Columns
          board={board}
          shown={filterBoard(board, visible.ids)}
          filtered={visible.ids !== null}
          state={state}
          canEdit={canEdit}
          onMove={move}
          onNudge={nudge}
        />
      )}
    </div>
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The ids the quick filter lets through: asked of the issues search, or matched here when offline. */
function useSearch(
  projectId: string,
  filter: QuickFilter,
  board: Board | null,
  savedAt: string | null,
): { ids: Set<string> | null; note: string | null } {
  const [debounced, setDebounced] = useState(filter);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(filter), 300);
    return () => clearTimeout(timer);
  }, [filter]);
  const [result, setResult] = useState<{ key: string; ids: Set<string> | null; total: number }>();
  const empty = isFilterEmpty(debounced);
  const query = filterQuery(debounced);
  useEffect(() => {
    if (empty) return;
    const controller = new AbortController();
    const key = `${query}@${savedAt}`;
    api
      .get<{ total: number; issues: { id: string }[] }>(
        `/v1/projects/${seg(projectId)}/issues?${query}`,
        { signal: controller.signal },
      )
      .then(
        (r) => setResult({ key, ids: new Set(r.issues.map((i) => i.id)), total: r.total }),
        () => {
          if (!controller.signal.aborted) setResult({ key, ids: null, total: 0 });
        },
      );
    return () => controller.abort();
  }, [projectId, query, empty, savedAt]);
  if (empty) return { ids: null, note: null };
  if (result?.ids) {
    return {
      ids: result.ids,
      note: `${result.total} matching ${result.total === 1 ? 'issue' : 'issues'}.`,
    };
  }
  if (result && board) {
    // The search route failed (offline): filter the cards this device has.
    const ids = new Set(
      board.columns.flatMap((c) =>
        c.issues.filter((i) => matchesQuickFilter(i, debounced)).map((i) => i.id),
      ),
    );
    return {
      ids,
      note: `${ids.size} matching cards on this device (the server could not be searched).`,
    };
  }
  return { ids: null, note: 'Searching…' };
}

function Filters({
  filter,
  onChange,
  members,
}: {
  filter: QuickFilter;
  onChange: (f: QuickFilter) => void;
  members: readonly { userId: string; displayName: string; username: string | null }[];
}) {
  return (
    <search className="board-filters" aria-label="Filter the board">
      <TextField
        label="Search"
        type="search"
        value={filter.q}
        maxLength={200}
        onChange={(e) => onChange({ ...filter, q: e.target.value })}
      />
      <TextField
        label="Label"
        value={filter.label}
        maxLength={50}
        onChange={(e) => onChange({ ...filter, label: e.target.value })}
      />
      <SelectField
        label="Assignee"
        value={filter.assignee}
        onChange={(e) => onChange({ ...filter, assignee: e.target.value })}
        options={[
          { value: '', label: 'Anyone' },
          ...members.map((m) => ({
            value: m.userId,
            label: m.displayName || m.username || m.userId,
          })),
        ]}
      />
      {!isFilterEmpty(filter) ? (
        <Button className="board-filters-clear" onClick={() => onChange(NO_FILTER)}>
          Clear filters
        </Button>
      ) : null}
    </search>
  );
}

function NewIssue({ onCreate }: { onCreate: (title: string, description: string) => void }) {
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  if (!open) {
    return (
      <Button variant="primary" onClick={() => setOpen(true)}>
        New issue
      </Button>
    );
  }
  const save = (event: FormEvent) => {
    event.preventDefault();
    if (!title.trim()) {
      setProblem('An issue needs a title.');
      return;
    }
    onCreate(title.trim(), description);
    setTitle('');
    setDescription('');
    setProblem(null);
    setOpen(false);
  };
  return (
    <form className="board-new-issue card" onSubmit={save} aria-label="New issue">
      <TextField
        label="Title"
        value={title}
        maxLength={500}
        required
        autoFocus
        error={problem}
        onChange={(e) => setTitle(e.target.value)}
      />
      <TextArea
        label="Description (optional, Markdown)"
        value={description}
        maxLength={100_000}
        rows={4}
        onChange={(e) => setDescription(e.target.value)}
      />
      <div className="btn-row">
        <Button type="submit" variant="primary">
          Create issue
        </Button>
        <Button onClick={() => setOpen(false)}>Cancel</Button>
      </div>
    </form>
  );
}

function Columns({
  board,
  shown,
  filtered,
  state,
  canEdit,
  onMove,
  onNudge,
}: {
  board: Board;
  shown: Board;
  filtered: boolean;
  state: ReturnType<typeof useBoard>;
  canEdit: boolean;
  onMove: (issue: Issue, columnId: string, index?: number) => void;
  onNudge: (issue: Issue, by: -1 | 1) => void;
}) {
  const [dragOrder, setDragOrder] = useState<Order | null>(null);
  const sensors = useSensors(
    useSensor(MouseSensor, { activationConstraint: { distance: 5 } }),
    // A short press, so a swipe still scrolls the board on a phone.
    useSensor(TouchSensor, { activationConstraint: { delay: 200, tolerance: 8 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
  const order = dragOrder ?? orderOf(shown);
  const byId = useMemo(() => {
    const map = new Map<string, Issue>();
    for (const c of board.columns) for (const i of c.issues) map.set(i.id, i);
    return map;
  }, [board]);
  const columnName = (id: string) => board.columns.find((c) => c.id === id)?.name ?? 'a column';
  const nameOf = (id: string | number) => {
    const issue = byId.get(String(id));
    return issue ? issueName(issue) : 'The card';
  };
  const whereIs = (o: Order, id: string) => {
    const column = containerOf(o, id);
    if (!column) return 'no column';
    const at = (o[column] ?? []).indexOf(id);
    const size = (o[column] ?? []).length;
    return `${columnName(column)}, position ${at + 1} of ${size}`;
  };

  const announcements: Announcements = {
    onDragStart: ({ active }) =>
      `Picked up ${nameOf(active.id)}. Move it with the arrow keys; press Space or Enter to drop it, Escape to cancel.`,
    onDragOver: ({ active, over }) =>
      over
        ? `${nameOf(active.id)} is in ${whereIs(dragOrder ?? order, String(active.id))}.`
        : `${nameOf(active.id)} is not over a column.`,
    onDragEnd: ({ active, over }) =>
      over
        ? `${nameOf(active.id)} was dropped in ${whereIs(dragOrder ?? order, String(active.id))}.`
        : `${nameOf(active.id)} was put back.`,
    onDragCancel: ({ active }) => `Moving ${nameOf(active.id)} was cancelled; it is back in place.`,
  };

  const onDragStart = (_event: DragStartEvent) => setDragOrder(orderOf(shown));
  const onDragOver = ({ active, over }: DragOverEvent) => {
    if (!over) return;
    setDragOrder((current) => {
      const base = current ?? orderOf(shown);
      const from = containerOf(base, String(active.id));
      const to = containerOf(base, String(over.id));
      // Within a column the sortable strategy shows the gap; only a column change moves the id.
      return from && to && from !== to
        ? moveInOrder(base, String(active.id), String(over.id))
        : base;
    });
  };
  const onDragEnd = ({ active, over }: DragEndEvent) => {
    const base = dragOrder ?? orderOf(shown);
    setDragOrder(null);
    if (!over) return;
    const id = String(active.id);
    const final = moveInOrder(base, id, String(over.id));
    const columnId = containerOf(final, id);
    const issue = byId.get(id);
    const target = board.columns.find((c) => c.id === columnId);
    if (!columnId || !issue || !target) return;
    const others = target.issues.filter((i) => i.id !== id).map((i) => i.id);
    onMove(issue, columnId, indexAmong(others, final[columnId] ?? [], id));
  };

  return (
    <DndContext
      sensors={sensors}
      collisionDetection={closestCorners}
      onDragStart={onDragStart}
      onDragOver={onDragOver}
      onDragEnd={onDragEnd}
      onDragCancel={() => setDragOrder(null)}
      accessibility={{
        announcements,
        screenReaderInstructions: {
          draggable:
            'To move this card, press Space or Enter, move it with the arrow keys, then press Space or Enter to drop it, or Escape to cancel. You can also use its Move to list.',
        },
      }}
    >
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1) */}
      <section className="board-columns" aria-label="Board columns" tabIndex={0}>
        {shown.columns.map((column) => (
          <BoardColumn
            key={column.id}
            column={board.columns.find((c) => c.id === column.id) ?? column}
            ids={order[column.id] ?? []}
            filtered={filtered}
          >
            {(order[column.id] ?? []).map((id, index, all) => {
              const issue = byId.get(id);
              if (!issue) return null;
              return (
                <BoardCard
                  key={id}
                  issue={issue}
                  columns={board.columns}
                  members={state.members}
                  canEdit={canEdit && issue.key !== ''}
                  queued={state.queued.has(id)}
                  refused={state.refused.get(id)}
                  isFirst={index === 0}
                  isLast={index === all.length - 1}
                  onMove={(i, c) => onMove(i, c)}
                  onNudge={onNudge}
                />
              );
            })}
          </BoardColumn>
        ))}
      </section>
    </DndContext>
  );
}

function BoardColumn({
  column,
  ids,
  filtered,
  children,
}: {
  column: Column;
  ids: string[];
  filtered: boolean;
  children: ReactNode;
}) {
  const { setNodeRef, isOver } = useDroppable({ id: column.id });
  const headingId = `column-${column.id}`;
  const wip = column.wipLimit;
  const shownCount = column.issues.length;
  return (
    <section className={`board-column${isOver ? ' is-over' : ''}`} aria-labelledby={headingId}>
      <header className="board-column-head">
        <h2 id={headingId}>{column.name}</h2>
        <span className="board-column-count">
          {wip !== null ? (
            <>
              {column.count} of {wip}
              <span className="visually-hidden"> (work-in-progress limit)</span>
            </>
          ) : (
            <>
              {column.count}
              <span className="visually-hidden"> cards</span>
            </>
          )}
        </span>
        {column.overWipLimit ? <span className="badge badge-warning">Over WIP limit</span> : null}
      </header>
      {shownCount < column.count ? (
        <p className="muted board-column-note">
          Showing the first {shownCount} of {column.count} cards.
        </p>
      ) : null}
      {filtered ? <p className="muted board-column-note">Only matching cards are shown.</p> : null}
      <SortableContext id={column.id} items={ids} strategy={verticalListSortingStrategy}>
        <ul ref={setNodeRef} className="board-cards" aria-labelledby={headingId}>
          {children}
        </ul>
      </SortableContext>
      {ids.length === 0 ? <p className="muted board-column-empty">No cards.</p> : null}
    </section>
  );
}
