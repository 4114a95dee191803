/**
 * One card: a list item named by its heading (key and title), draggable by
 * its handle (pointer, touch or keyboard) and movable without dragging
 * through its "Move to" list and up/down buttons.
 */
import { useSortable } from '@dnd-kit/sortable';
import { useId } from 'react';
import { Link } from 'wouter';
import { Badge } from '../../ui/components.tsx';
import { type Column, type Issue, issueName } from './board-model.ts';
import type { Member } from './board-sync.ts';

export function memberName(members: readonly Member[], userId: string): string {
  const m = members.find((x) => x.userId === userId);
  return m ? m.displayName || m.username || userId : 'Someone no longer in the project';
}

export function formatDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  if (!y || !m || !d) return day;
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export function isOverdue(day: string | null): boolean {
  if (!day) return false;
  const today = new Date();
  const local = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
  return day < local;
}

const PRIORITY_TONE: Record<string, 'neutral' | 'info' | 'warning' | 'danger'> = {
  low: 'neutral',
  medium: 'info',
  high: 'warning',
  urgent: 'danger',
};

export function BoardCard({
  issue,
  columns,
  members,
  canEdit,
  queued,
  refused,
  isFirst,
  isLast,
  onMove,
  onNudge,
}: {
  issue: Issue;
  columns: readonly Column[];
  members: readonly Member[];
  canEdit: boolean;
  queued: boolean;
  refused: string | undefined;
  isFirst: boolean;
  isLast: boolean;
  onMove: (issue: Issue, columnId: string) => void;
  onNudge: (issue: Issue, by: -1 | 1) => void;
}) {
  const titleId = useId();
  const moveId = useId();
  const synced = issue.key !== '';
  const name = issueName(issue);
  const sortable = useSortable({ id: issue.id, disabled: !canEdit });
  const { transform, transition, isDragging } = sortable;
  // Set through CSSOM (React's style prop), which the CSP allows.
  const style = {
    transform: transform
      ? `translate3d(${Math.round(transform.x)}px, ${Math.round(transform.y)}px, 0)`
      : undefined,
    transition: transition ?? undefined,
  };
  const overdue = isOverdue(issue.dueDate);
  return (
    <li
      ref={sortable.setNodeRef}
      style={style}
      className={`board-card${isDragging ? ' is-dragging' : ''}${refused ? ' is-refused' : ''}`}
      aria-labelledby={titleId}
    >
      <div className="board-card-top">
        {canEdit ? (
          <button
            type="button"
            ref={sortable.setActivatorNodeRef}
            className="drag-handle"
            {...sortable.attributes}
            {...sortable.listeners}
            aria-label={`Drag ${name}`}
          >
            <span aria-hidden="true">⠿</span>
          </button>
        ) : null}
        <h3 id={titleId} className="board-card-title">
          {synced ? (
            <Link href={`/issues/${issue.id}`}>
              <span className="board-card-key">{issue.key}</span> {issue.title}
            </Link>
          ) : (
            <span>{issue.title}</span>
          )}
        </h3>
      </div>
      <div className="board-card-meta">
        {!synced ? <Badge tone="info">New, not yet on the server</Badge> : null}
        {queued ? (
          <Badge tone="info" title="This change waits to be sent to the server.">
            Queued
          </Badge>
        ) : null}
        {refused ? (
          <Badge tone="danger" title={refused}>
            Change not applied
          </Badge>
        ) : null}
        {issue.priority ? (
          <Badge tone={PRIORITY_TONE[issue.priority] ?? 'neutral'}>
            Priority: {issue.priority}
          </Badge>
        ) : null}
        {issue.dueDate ? (
          <Badge tone={overdue ? 'danger' : 'neutral'}>
            Due {formatDay(issue.dueDate)}
            {overdue ? ' (overdue)' : ''}
          </Badge>
        ) : null}
      </div>
      {issue.labels.length > 0 ? (
        <ul className="board-card-labels" aria-label="Labels">
          {issue.labels.map((label) => (
            <li key={label} className="board-label">
              {label}
            </li>
          ))}
        </ul>
      ) : null}
      <p className="board-card-assignee">
        {issue.assignees.length > 0
          ? `Assigned to ${issue.assignees.map((id) => memberName(members, id)).join(', ')}`
          : 'Unassigned'}
      </p>
      {refused ? <p className="board-card-problem">{refused}</p> : null}
      {canEdit ? (
        <div className="board-card-actions">
          <label htmlFor={moveId} className="board-move-label">
            Move to<span className="visually-hidden"> (for {name})</span>
          </label>
          <select
            id={moveId}
            className="board-move-select"
            value={issue.status}
            onChange={(event) => onMove(issue, event.target.value)}
          >
            {columns.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => onNudge(issue, -1)}
            disabled={isFirst}
            aria-label={`Move ${name} up`}
          >
            <span aria-hidden="true">↑</span>
          </button>
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => onNudge(issue, 1)}
            disabled={isLast}
            aria-label={`Move ${name} down`}
          >
            <span aria-hidden="true">↓</span>
          </button>
        </div>
      ) : null}
    </li>
  );
}
