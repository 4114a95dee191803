/**
 * One issue: its fields (editable), checklist, comments, links and its
 * activity with the ledger proofs. Edits are board operations through the
 * outbox, shown at once; Markdown is shown as its text, never as HTML.
 */
import { type FormEvent, useCallback, useEffect, useId, useMemo, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { ApiError, api, NetworkError, seg } from '../../api/client.ts';
import { useProjectEvents } from '../../api/live.ts';
import { useSession } from '../../app/session.tsx';
import { VaultLockedError, vault } from '../../offline/vault.ts';
import {
  Badge,
  Banner,
  Button,
  Card,
  Checkbox,
  Dialog,
  EmptyState,
  ErrorNote,
  formatDate,
  SelectField,
  Spinner,
  TextArea,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import type { ProjectInfo } from '../project/ProjectPage.tsx';
import { formatDay, isOverdue, memberName } from './BoardCard.tsx';
import {
  applyOpsToIssue,
  type BoardOp,
  type ChecklistItem,
  commentOp,
  deleteOp,
  findIssue,
  type Issue,
  type IssueSet,
  issueName,
  LINK_KINDS,
  type LinkKind,
  linkOp,
  PRIORITIES,
  parseLabels,
  planMove,
  updateOp,
} from './board-model.ts';
import {
  type Member,
  opFactory,
  registerBoardSender,
  scheduleRefresh,
  submitBoardOps,
} from './board-sync.ts';
import { IssueActivity } from './IssueActivity.tsx';
import { useBoard } from './use-board.ts';
import './board.css';

registerBoardSender();

interface Comment {
  id: string;
  issueId: string;
  authorId: string;
  body: string;
  mentions: string[];
  createdAt: string;
}

interface IssueLink {
  id: string;
  from: string;
  to: string;
  kind: LinkKind;
  createdAt: string;
}

interface IssueDetail {
  issue: Issue | null;
  comments: Comment[];
  links: IssueLink[];
  blockingCycle: boolean;
  /** Set when this is the copy saved on this device (the server could not be reached). */
  offlineSavedAt?: string;
}

async function loadIssue(issueId: string, signal: AbortSignal): Promise<IssueDetail> {
  try {
    const detail = await api.get<IssueDetail>(`/v1/issues/${seg(issueId)}`, { signal });
    vault
      .put(`issue:${issueId}`, { ...detail, savedAt: new Date().toISOString() })
      .catch((error: unknown) => {
        if (!(error instanceof VaultLockedError)) console.warn('issue not saved offline', error);
      });
    return detail;
  } catch (error) {
    const unreachable =
      error instanceof NetworkError || (error instanceof ApiError && error.status >= 500);
    if (unreachable) {
      const copy = await vault
        .get<IssueDetail & { savedAt: string }>(`issue:${issueId}`)
        .catch(() => undefined);
      if (copy?.issue) return { ...copy, offlineSavedAt: copy.savedAt };
    }
    throw error;
  }
}

const LINK_WORDS: Record<LinkKind, { out: string; in: string }> = {
  blocks: { out: 'blocks', in: 'is blocked by' },
  relates: { out: 'relates to', in: 'relates to' },
  duplicates: { out: 'duplicates', in: 'is duplicated by' },
};

export default function IssuePage({ project, issueId }: { project: ProjectInfo; issueId: string }) {
  const { me } = useSession();
  const projectId = project.project.id;
  const canEdit = project.role !== 'viewer';
  const board = useBoard(projectId, me.user.id);
  const [generation, setGeneration] = useState(0);
  const detail = useResource(`issue:${issueId}:${generation}`, (signal) =>
    loadIssue(issueId, signal),
  );
  const [activityGeneration, setActivityGeneration] = useState(0);
  const [actionError, setActionError] = useState<unknown>(null);
  const [, navigate] = useLocation();
  const ops = useMemo(() => opFactory(me.user.id), [me.user.id]);

  useProjectEvents(projectId, (event) => {
    const mine = event.type === 'issues.changed' && event.issues?.includes(issueId);
    if (mine || event.type === 'live.resync') {
      setGeneration((g) => g + 1);
      setActivityGeneration((g) => g + 1);
    }
    if (event.type !== 'live.error') scheduleRefresh(projectId);
  });

  // A board fetched again (after our own edit was answered, or someone else's) may
  // mean this issue changed: the pending edit shown here is then dropped.
  const boardSavedAt = board.savedAt;
  useEffect(() => {
    if (boardSavedAt) setGeneration((g) => g + 1);
  }, [boardSavedAt]);

  const pendingHere = useMemo(
    () => board.pending.filter((op) => op.issueId === issueId),
    [board.pending, issueId],
  );

  const submit = useCallback(
    (list: BoardOp[], label: string) => {
      setActionError(null);
      return submitBoardOps(projectId, list, label).then(
        () => true,
        (error: unknown) => {
          setActionError(error);
          return false;
        },
      );
    },
    [projectId],
  );

  const data = detail.data;
  if (!data) {
    if (detail.error) {
      return (
        <div className="issue-page">
          <BackLink />
          <ErrorNote error={detail.error} />
        </div>
      );
    }
    return <Spinner label="Loading the issue…" />;
  }
  // The board may have been fetched after this page: take whichever copy is newer.
  const onBoard = board.board ? findIssue(board.board, issueId) : undefined;
  const fetched =
    data.issue && onBoard && onBoard.updatedAt > data.issue.updatedAt ? onBoard : data.issue;
  const issue = fetched ? applyOpsToIssue(fetched, pendingHere) : null;
  if (!issue) {
    return (
      <div className="issue-page">
        <BackLink />
        <EmptyState title="This issue was deleted">
          It is no longer on the board. Its record stays in the audit ledger.
        </EmptyState>
      </div>
    );
  }
  const name = issueName(issue);
  const queued = board.queued.has(issue.id);
  const refused = board.refused.get(issue.id);
  const keyOf = (id: string) => {
    const other = board.view ? findIssue(board.view, id) : undefined;
    return other ? `${issueName(other)} ${other.title}` : 'an issue not on the board';
  };

  return (
    <div className="issue-page">
      <BackLink />
      {data.offlineSavedAt ? (
        <Banner tone="warning" title="Offline copy">
          The server cannot be reached. This is the copy of the issue saved on this device on{' '}
          {formatDate(data.offlineSavedAt)}.
        </Banner>
      ) : detail.error ? (
        <Banner tone="warning" title="The issue could not be refreshed">
          {detail.error instanceof Error ? detail.error.message : String(detail.error)}
        </Banner>
      ) : null}
      {data.blockingCycle ? (
        <Banner tone="warning" title="Blocking cycle">
          This issue is part of a cycle of “blocks” links: each issue in it waits for another.
        </Banner>
      ) : null}
      {refused ? (
        <Banner tone="danger" title="A change to this issue was not applied">
          {refused}
        </Banner>
      ) : null}
      <ErrorNote error={actionError} />

      <Fields
        issue={issue}
        board={board}
        canEdit={canEdit}
        queued={queued}
        onSave={(set) => submit([updateOp(ops, issue.id, set)], `Edit ${name}`)}
        onDelete={async () => {
          if (await submit([deleteOp(ops, issue.id)], `Delete ${name}`)) navigate('/');
        }}
        planStatus={(status) =>
          board.view ? planMove(board.view, issue.id, status, Number.MAX_SAFE_INTEGER) : null
        }
      />

      <Checklist
        items={issue.checklist}
        canEdit={canEdit}
        onChange={(checklist) =>
          void submit([updateOp(ops, issue.id, { checklist })], `Update the checklist of ${name}`)
        }
      />

      <Comments
        comments={data.comments}
        pending={pendingHere.filter(
          (op): op is BoardOp & { kind: 'comment.add' } => op.kind === 'comment.add',
        )}
        members={board.members}
        canEdit={canEdit}
        onAdd={(body) => submit([commentOp(ops, issue.id, body)], `Comment on ${name}`)}
      />

      <Links
        issue={issue}
        links={data.links}
        pending={pendingHere.filter(
          (op): op is BoardOp & { kind: 'link.add' } => op.kind === 'link.add',
        )}
        keyOf={keyOf}
        canEdit={canEdit}
        onAdd={(to, link) =>
          submit([linkOp(ops, issue.id, to, link)], `Link ${name} ${LINK_WORDS[link].out} ${to}`)
        }
        onRemoved={() => setGeneration((g) => g + 1)}
      />

      <IssueActivity
        issueId={issue.id}
        generation={activityGeneration}
        nameOf={(userId) => memberName(board.members, userId)}
      />
    </div>
  );
}

function BackLink() {
  return (
    <p className="issue-back">
      <Link href="/">← Back to the board</Link>
    </p>
  );
}

interface Draft {
  title: string;
  description: string;
  status: string;
  priority: string;
  labels: string;
  assignees: string[];
  dueDate: string;
}

function draftOf(issue: Issue): Draft {
  return {
    title: issue.title,
    description: issue.description,
    status: issue.status,
    priority: issue.priority ?? '',
    labels: issue.labels.join(', '),
    assignees: [...issue.assignees],
    dueDate: issue.dueDate ?? '',
  };
}

function sameList(a: readonly string[], b: readonly string[]) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function Fields({
  issue,
  board,
  canEdit,
  queued,
  onSave,
  onDelete,
  planStatus,
}: {
  issue: Issue;
  board: ReturnType<typeof useBoard>;
  canEdit: boolean;
  queued: boolean;
  onSave: (set: IssueSet) => Promise<boolean>;
  onDelete: () => Promise<void>;
  planStatus: (status: string) => { status: string; rank: string } | null;
}) {
  const [draft, setDraft] = useState<Draft | null>(null);
  const [problem, setProblem] = useState<{ field: keyof Draft; message: string } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const columns = board.view?.columns ?? board.board?.columns ?? [];
  const columnName = columns.find((c) => c.id === issue.status)?.name ?? 'Unknown column';
  const members: readonly Member[] = board.members;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!draft) return;
    const set: IssueSet = {};
    const title = draft.title.trim();
    if (!title) {
      setProblem({ field: 'title', message: 'An issue needs a title.' });
      return;
    }
    const labels = parseLabels(draft.labels);
    if (labels.problem) {
      setProblem({ field: 'labels', message: labels.problem });
      return;
    }
    if (title !== issue.title) set.title = title;
    if (draft.description !== issue.description) set.description = draft.description;
    const priority = draft.priority || null;
    if (priority !== issue.priority) set.priority = priority;
    if (!sameList(labels.labels, issue.labels)) set.labels = labels.labels;
    if (!sameList(draft.assignees, issue.assignees)) set.assignees = draft.assignees;
    const due = draft.dueDate || null;
    if (due !== issue.dueDate) set.dueDate = due;
    if (draft.status !== issue.status) {
      let position: ReturnType<typeof planStatus>;
      try {
        position = planStatus(draft.status);
      } catch (error) {
        setProblem({ field: 'status', message: (error as Error).message });
        return;
      }
      if (!position) {
        setProblem({ field: 'status', message: 'The board is not loaded yet; try again.' });
        return;
      }
      set.status = position.status;
      set.rank = position.rank;
    }
    setProblem(null);
    if (Object.keys(set).length === 0 || (await onSave(set))) setDraft(null);
  };

  const errorFor = (field: keyof Draft) => (problem?.field === field ? problem.message : null);

  return (
    <Card>
      <div className="issue-head">
        <p className="muted">
          {issue.key || 'New issue, not yet on the server'}{' '}
          {queued ? (
            <Badge tone="info" title="A change waits to be sent to the server.">
              Queued
            </Badge>
          ) : null}
        </p>
        <h2>{issue.title}</h2>
      </div>
      {draft ? (
        <form onSubmit={save} aria-label={`Edit ${issueName(issue)}`}>
          <TextField
            label="Title"
            value={draft.title}
            maxLength={500}
            required
            error={errorFor('title')}
            onChange={(e) => setDraft({ ...draft, title: e.target.value })}
          />
          <TextArea
            label="Description (Markdown)"
            value={draft.description}
            maxLength={100_000}
            rows={8}
            onChange={(e) => setDraft({ ...draft, description: e.target.value })}
          />
          <div className="form-grid">
            <SelectField
              label="Status"
              value={draft.status}
              onChange={(e) => setDraft({ ...draft, status: e.target.value })}
              options={columns.map((c) => ({ value: c.id, label: c.name }))}
            />
            <SelectField
              label="Priority"
              value={draft.priority}
              onChange={(e) => setDraft({ ...draft, priority: e.target.value })}
              options={[
                { value: '', label: 'None' },
                ...PRIORITIES.map((p) => ({ value: p, label: p[0]?.toUpperCase() + p.slice(1) })),
              ]}
            />
            <TextField
              label="Labels"
              hint="Separated by commas; letters, digits, - and _."
              value={draft.labels}
              error={errorFor('labels')}
              onChange={(e) => setDraft({ ...draft, labels: e.target.value })}
            />
            <TextField
              label="Due date"
              type="date"
              value={draft.dueDate}
              onChange={(e) => setDraft({ ...draft, dueDate: e.target.value })}
            />
          </div>
          {errorFor('status') ? <p className="field-error">{errorFor('status')}</p> : null}
          <fieldset className="issue-assignees">
            <legend>Assignees</legend>
            {members.length === 0 ? (
              <p className="muted">The project’s members could not be loaded.</p>
            ) : (
              members.map((m) => (
                <Checkbox
                  key={m.userId}
                  label={m.displayName || m.username || m.userId}
                  checked={draft.assignees.includes(m.userId)}
                  onChange={(e) =>
                    setDraft({
                      ...draft,
                      assignees: e.target.checked
                        ? [...draft.assignees, m.userId]
                        : draft.assignees.filter((id) => id !== m.userId),
                    })
                  }
                />
              ))
            )}
          </fieldset>
          <div className="btn-row">
            <Button type="submit" variant="primary">
              Save changes
            </Button>
            <Button
              onClick={() => {
                setDraft(null);
                setProblem(null);
              }}
            >
              Cancel
            </Button>
          </div>
        </form>
      ) : (
        <>
          <dl className="issue-fields">
            <dt>Status</dt>
            <dd>{columnName}</dd>
            <dt>Priority</dt>
            <dd>{issue.priority ?? 'None'}</dd>
            <dt>Labels</dt>
            <dd>{issue.labels.length > 0 ? issue.labels.join(', ') : 'None'}</dd>
            <dt>Assignees</dt>
            <dd>
              {issue.assignees.length > 0
                ? issue.assignees.map((id) => memberName(members, id)).join(', ')
                : 'Unassigned'}
            </dd>
            <dt>Due</dt>
            <dd>
              {issue.dueDate
                ? `${formatDay(issue.dueDate)}${isOverdue(issue.dueDate) ? ' (overdue)' : ''}`
                : 'No due date'}
            </dd>
            <dt>Created</dt>
            <dd>
              {formatDate(issue.createdAt)} by {memberName(members, issue.createdBy)}
            </dd>
            <dt>Updated</dt>
            <dd>{formatDate(issue.updatedAt)}</dd>
          </dl>
          <h3>Description</h3>
          {issue.description ? (
            <p className="md-text">{issue.description}</p>
          ) : (
            <p className="muted">No description.</p>
          )}
          {canEdit ? (
            <div className="btn-row">
              <Button variant="primary" onClick={() => setDraft(draftOf(issue))}>
                Edit
              </Button>
              <Button variant="danger" onClick={() => setConfirmDelete(true)}>
                Delete issue
              </Button>
            </div>
          ) : null}
        </>
      )}
      <Dialog
        open={confirmDelete}
        title={`Delete ${issueName(issue)}?`}
        onClose={() => setConfirmDelete(false)}
      >
        <p>
          The issue leaves the board for everyone. Its history stays in the audit ledger. This
          cannot be undone here.
        </p>
        <div className="btn-row">
          <Button
            variant="danger"
            onClick={() => {
              setConfirmDelete(false);
              void onDelete();
            }}
          >
            Delete
          </Button>
          <Button onClick={() => setConfirmDelete(false)}>Keep it</Button>
        </div>
      </Dialog>
    </Card>
  );
}

function Checklist({
  items,
  canEdit,
  onChange,
}: {
  items: readonly ChecklistItem[];
  canEdit: boolean;
  onChange: (items: ChecklistItem[]) => void;
}) {
  const [text, setText] = useState('');
  const headingId = useId();
  const done = items.filter((i) => i.done).length;
  const add = (event: FormEvent) => {
    event.preventDefault();
    const value = text.trim();
    if (!value) return;
    onChange([...items, { id: crypto.randomUUID(), text: value.slice(0, 1000), done: false }]);
    setText('');
  };
  return (
    <Card>
      <h3 id={headingId}>
        Checklist{' '}
        {items.length > 0 ? (
          <span className="muted">
            ({done} of {items.length} done)
          </span>
        ) : null}
      </h3>
      {items.length === 0 ? <p className="muted">No checklist items.</p> : null}
      {items.length > 0 ? (
        <ul className="issue-checklist" aria-labelledby={headingId}>
          {items.map((item) => (
            <li key={item.id}>
              <Checkbox
                label={item.text}
                checked={item.done}
                disabled={!canEdit}
                onChange={(e) =>
                  onChange(
                    items.map((i) => (i.id === item.id ? { ...i, done: e.target.checked } : i)),
                  )
                }
              />
              {canEdit ? (
                <Button
                  variant="ghost"
                  className="btn-small"
                  aria-label={`Remove “${item.text}” from the checklist`}
                  onClick={() => onChange(items.filter((i) => i.id !== item.id))}
                >
                  Remove
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {canEdit ? (
        <form className="issue-inline-form" onSubmit={add} aria-label="Add a checklist item">
          <TextField
            label="New checklist item"
            value={text}
            maxLength={1000}
            onChange={(e) => setText(e.target.value)}
          />
          <Button type="submit" disabled={!text.trim()}>
            Add item
          </Button>
        </form>
      ) : null}
    </Card>
  );
}

function Comments({
  comments,
  pending,
  members,
  canEdit,
  onAdd,
}: {
  comments: readonly Comment[];
  pending: readonly (BoardOp & { kind: 'comment.add' })[];
  members: readonly Member[];
  canEdit: boolean;
  onAdd: (body: string) => Promise<boolean>;
}) {
  const [body, setBody] = useState('');
  const headingId = useId();
  const add = useAction(async () => {
    if (await onAdd(body)) setBody('');
  });
  return (
    <Card>
      <h3 id={headingId}>Comments</h3>
      {comments.length === 0 && pending.length === 0 ? (
        <p className="muted">No comments yet.</p>
      ) : (
        <ul className="issue-comments" aria-labelledby={headingId}>
          {comments.map((c) => (
            <li key={c.id}>
              <p className="issue-comment-meta">
                <strong>{memberName(members, c.authorId)}</strong>
                <span>{formatDate(c.createdAt)}</span>
              </p>
              <p className="md-text">{c.body}</p>
            </li>
          ))}
          {pending.map((op) => (
            <li key={op.opId}>
              <p className="issue-comment-meta">
                <strong>You</strong>
                <Badge tone="info">Queued</Badge>
              </p>
              <p className="md-text">{op.body}</p>
            </li>
          ))}
        </ul>
      )}
      {canEdit ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (body.trim()) void add.run();
          }}
          aria-label="Add a comment"
        >
          <TextArea
            label="Add a comment"
            hint="Markdown; @username tells a project member."
            value={body}
            maxLength={16_384}
            rows={3}
            onChange={(e) => setBody(e.target.value)}
          />
          <Button type="submit" variant="primary" busy={add.busy} disabled={!body.trim()}>
            Comment
          </Button>
        </form>
      ) : null}
    </Card>
  );
}

function Links({
  issue,
  links,
  pending,
  keyOf,
  canEdit,
  onAdd,
  onRemoved,
}: {
  issue: Issue;
  links: readonly IssueLink[];
  pending: readonly (BoardOp & { kind: 'link.add' })[];
  keyOf: (id: string) => string;
  canEdit: boolean;
  onAdd: (to: string, link: LinkKind) => Promise<boolean>;
  onRemoved: () => void;
}) {
  const [to, setTo] = useState('');
  const [kind, setKind] = useState<LinkKind>('relates');
  const [problem, setProblem] = useState<string | null>(null);
  const headingId = useId();
  const remove = useAction(async (link: IssueLink) => {
    // Removing a link is not a board operation: it needs the server now.
    await api.delete(`/v1/issues/${seg(issue.id)}/links/${seg(link.id)}`);
    onRemoved();
  });
  const add = async (event: FormEvent) => {
    event.preventDefault();
    const ref = to.trim().toUpperCase();
    if (!/^[A-Z][A-Z0-9]{1,9}-[1-9][0-9]{0,8}$/.test(ref)) {
      setProblem('Give the other issue’s key, like BUL-7.');
      return;
    }
    if (ref === issue.key) {
      setProblem('An issue cannot link to itself.');
      return;
    }
    setProblem(null);
    if (await onAdd(ref, kind)) setTo('');
  };
  return (
    <Card>
      <h3 id={headingId}>Links</h3>
      <ErrorNote error={remove.error} />
      {links.length === 0 && pending.length === 0 ? (
        <p className="muted">No links.</p>
      ) : (
        <ul className="issue-links" aria-labelledby={headingId}>
          {links.map((link) => {
            const outgoing = link.from === issue.id;
            const other = outgoing ? link.to : link.from;
            const words = outgoing ? LINK_WORDS[link.kind].out : LINK_WORDS[link.kind].in;
            const otherName = keyOf(other);
            return (
              <li key={link.id}>
                <span>
                  This issue {words} <Link href={`/issues/${other}`}>{otherName}</Link>
                </span>
                {canEdit ? (
                  <Button
                    variant="ghost"
                    className="btn-small"
                    busy={remove.busy}
                    aria-label={`Remove the link: this issue ${words} ${otherName}`}
                    onClick={() => void remove.run(link)}
                  >
                    Remove
                  </Button>
                ) : null}
              </li>
            );
          })}
          {pending.map((op) => (
            <li key={op.opId}>
              <span>
                This issue {LINK_WORDS[op.link].out} {op.to}
              </span>
              <Badge tone="info">Queued</Badge>
            </li>
          ))}
        </ul>
      )}
      {canEdit && issue.key ? (
        <form className="issue-inline-form" onSubmit={add} aria-label="Add a link">
          <SelectField
            label="This issue"
            value={kind}
            onChange={(e) => setKind(e.target.value as LinkKind)}
            options={LINK_KINDS.map((k) => ({ value: k, label: LINK_WORDS[k].out }))}
          />
          <TextField
            label="Other issue’s key"
            placeholder="BUL-7"
            value={to}
            maxLength={64}
            error={problem}
            onChange={(e) => setTo(e.target.value)}
          />
          <Button type="submit" disabled={!to.trim()}>
            Add link
          </Button>
        </form>
      ) : null}
    </Card>
  );
}
