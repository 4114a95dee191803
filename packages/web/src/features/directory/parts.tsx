/**
 * Small pieces the directory screens share: who is looking (useViewer), a
 * secret link shown once (CopyOnce), a person's badges, errors with a plain
 * hint (ProblemNote), the "Linked issue" field, a person picker on the
 * directory search, and the create-project form.
 */
import {
  type ChangeEvent,
  type FormEvent,
  type ReactNode,
  useEffect,
  useId,
  useMemo,
  useRef,
  useState,
} from 'react';
import { ApiError, api, describeError, seg } from '../../api/client.ts';
import { useSession } from '../../app/session.tsx';
import {
  Badge,
  Banner,
  Button,
  Dialog,
  formatDate,
  TextArea,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import {
  checkIssueRef,
  errorHint,
  projectKeyProblem,
  relativeTime,
  resultCount,
  type Standing,
  suggestProjectKey,
  type Viewer,
} from './logic.ts';
import type { Org, OrgRole, Person, Project } from './types.ts';
import './directory.css';
import { cachedGet } from '../../offline/cached-get.ts';

// --- who is looking ----------------------------------------------------------

export interface ViewerInfo extends Viewer {
  isAdmin: boolean;
  displayName: string;
}

/**
 * The signed-in person, from `GET /v1/me`. Its `orgRole` can also be
 * `guest` (the shared `Me` type leaves that out), so it is read as OrgRole.
 */
export function useViewer(): ViewerInfo {
  const { me } = useSession();
  return useMemo(
    () => ({
      userId: me.user.id,
      orgId: me.orgId ?? null,
      orgRole: (me.orgRole as OrgRole | null | undefined) ?? null,
      isAdmin: me.user.isAdmin,
      displayName: me.user.displayName,
    }),
    [me],
  );
}

/** The orgs the person can see, by id (names for badges and headings). */
export function useOrgs() {
  const orgs = useResource('directory:orgs', (signal) =>
    cachedGet<{ orgs: Org[] }>('/v1/orgs', { signal }),
  );
  const byId = useMemo(() => new Map((orgs.data?.orgs ?? []).map((o) => [o.id, o])), [orgs.data]);
  return { ...orgs, byId };
}

/** An org's name when the person may know it, else a neutral description. */
export function orgLabel(byId: Map<string, Org>, id: string | null, fallback = 'another org') {
  if (!id) return fallback;
  return byId.get(id)?.name ?? fallback;
}

// --- a secret shown once -------------------------------------------------------

/**
 * A one-time link (enrolment, invitation): shown in a read-only field with a
 * copy button, its expiry, and why it will not be shown again. Focus moves to
 * its heading so keyboard and screen-reader users land on it.
 */
export function CopyOnce({
  title,
  url,
  expiresAt,
  children,
  onDone,
  level = 2,
}: {
  title: string;
  url: string;
  expiresAt: string;
  children?: ReactNode;
  onDone?: () => void;
  /** The heading level that fits where it is shown (2 on a page, 3 inside a card or dialog). */
  level?: 2 | 3;
}) {
  const headingRef = useRef<HTMLHeadingElement>(null);
  const Heading = level === 2 ? 'h2' : 'h3';
  const fieldId = useId();
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => headingRef.current?.focus(), []);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied('copied');
    } catch {
      const input = document.getElementById(fieldId);
      if (input instanceof HTMLInputElement) input.select();
      setCopied('failed');
    }
  };

  return (
    <div className="copy-once">
      <Heading ref={headingRef} tabIndex={-1}>
        {title}
      </Heading>
      {children}
      <p>
        <strong>This link is shown only this once.</strong> Copy it now and pass it on through a
        channel you trust. Bulwark keeps only a fingerprint of it, so it cannot show it again; if it
        gets lost, make a new one.
      </p>
      <div className="field">
        <label htmlFor={fieldId}>One-time link</label>
        <input
          id={fieldId}
          className="mono copy-once-value"
          readOnly
          value={url}
          onFocus={(e) => e.currentTarget.select()}
        />
      </div>
      <p className="muted">
        Valid until {formatDate(expiresAt)} ({relativeTime(expiresAt)}), and for one use only.
      </p>
      <div className="btn-row">
        <Button variant="primary" onClick={() => void copy()}>
          Copy link
        </Button>
        {onDone ? <Button onClick={onDone}>Done — hide the link</Button> : null}
      </div>
      <p role="status" className="copy-once-status">
        {copied === 'copied'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'The browser did not allow copying. The link is selected: press Ctrl+C (⌘C on a Mac).'
            : ''}
      </p>
    </div>
  );
}

// --- badges ---------------------------------------------------------------------

const standingBadge: Record<Standing, { tone: 'info' | 'warning'; text: string; title: string }> = {
  internal: { tone: 'info', text: 'Internal', title: 'A person of the project’s own org' },
  partner: {
    tone: 'warning',
    text: 'External',
    title: 'A person of a partner org, here through its partner link',
  },
  guest: {
    tone: 'warning',
    text: 'External',
    title: 'A guest: invited by e-mail, without a role in any org',
  },
};

/** Internal / External (and Guest), plus the few facts that matter about a person. */
export function PersonBadges({
  standing,
  you = false,
  orgRole,
  disabled = false,
  installationAdmin = false,
  extra,
}: {
  standing?: Standing;
  you?: boolean;
  orgRole?: OrgRole | null;
  disabled?: boolean;
  installationAdmin?: boolean;
  extra?: ReactNode;
}) {
  const s = standing ? standingBadge[standing] : null;
  return (
    <span className="badges">
      {you ? <Badge tone="success">You</Badge> : null}
      {s ? (
        <Badge tone={s.tone} title={s.title}>
          {s.text}
        </Badge>
      ) : null}
      {standing === 'guest' || orgRole === 'guest' ? (
        <Badge title="Guests see only the projects they were invited into">Guest</Badge>
      ) : null}
      {orgRole === 'owner' ? <Badge tone="info">Org owner</Badge> : null}
      {orgRole === 'admin' ? <Badge tone="info">Org admin</Badge> : null}
      {orgRole === 'member' ? <Badge>Org member</Badge> : null}
      {installationAdmin ? <Badge tone="info">Installation admin</Badge> : null}
      {disabled ? <Badge tone="danger">Disabled</Badge> : null}
      {extra}
    </span>
  );
}

/** A person's name with their username under it. */
export function PersonName({
  name,
  username,
  email,
}: {
  name: string | null;
  username: string | null;
  email?: string | null;
}) {
  return (
    <span className="person">
      <span className="person-name">{name ?? username ?? 'Unnamed person'}</span>
      {username || email ? (
        <span className="person-sub">
          {username ? `@${username}` : ''}
          {username && email ? ' · ' : ''}
          {email ?? ''}
        </span>
      ) : null}
    </span>
  );
}

// --- errors -----------------------------------------------------------------------

/**
 * An error in the server's words, with a plain hint where the person can do
 * something (name an issue, ask an admin). "Issue link required" is said
 * plainly instead of naming the request header.
 */
export function ProblemNote({ error, projectKey = '' }: { error: unknown; projectKey?: string }) {
  if (error === null || error === undefined) return null;
  if (error instanceof ApiError) {
    const hint = errorHint(error.code, error.status, projectKey || 'KEY');
    if (error.code === 'issue_link_required') {
      return (
        <Banner tone="danger" title="Name an issue for this change">
          {hint}
        </Banner>
      );
    }
    return (
      <Banner tone="danger">
        {error.message}
        {hint ? <span className="problem-hint">{hint}</span> : null}
      </Banner>
    );
  }
  return <Banner tone="danger">{describeError(error)}</Banner>;
}

/** 403 and 404 mean "not for you" on optional sections: show nothing rather than an error. */
export function isNotForYou(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 403 || error.status === 404);
}

// --- linked issue -------------------------------------------------------------------

/** Whether changes in a project name an issue, and the project's key for the examples. */
export interface IssueRule {
  projectKey: string;
  required: boolean;
}

/** The "Linked issue" input of a change form: its value, its check, its field. */
export function useIssueInput(projectKey: string, required: boolean) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  return {
    value,
    reset: () => {
      setValue('');
      setError(null);
    },
    /** The header value to send, or false when what was typed cannot be one (the field says why). */
    resolve: (): { issue: string | undefined } | false => {
      const checked = checkIssueRef(value, projectKey, required);
      setError(checked.error);
      return checked.error ? false : { issue: checked.issue };
    },
    field: (
      <TextField
        label={`Linked issue (e.g. ${projectKey || 'KEY'}-12)`}
        hint={
          required
            ? 'Required: this project’s policy asks every change to name one of its issues.'
            : 'Optional: the issue this change is for; it is recorded with the change.'
        }
        value={value}
        onChange={(e: ChangeEvent<HTMLInputElement>) => {
          setValue(e.target.value);
          setError(null);
        }}
        error={error}
        autoComplete="off"
        spellCheck={false}
        required={required}
        className="issue-field"
      />
    ),
  };
}

// --- searching for a person ------------------------------------------------------------

export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export const SEARCH_LIMIT = 20;

/** `GET /v1/directory/search`, debounced; null query (empty) loads nothing. */
export function usePeopleSearch(query: string, limit = SEARCH_LIMIT) {
  const q = useDebounced(query.trim().slice(0, 100), 300);
  const result = useResource(q ? `search:${limit}:${q}` : null, (signal) =>
    api.get<{ people: Person[] }>(
      `/v1/directory/search?q=${encodeURIComponent(q)}&limit=${limit}`,
      { signal },
    ),
  );
  const settled = q === query.trim().slice(0, 100) && !result.loading;
  return { q, ...result, settled };
}

/**
 * Choose one person from the directory search: a search box, the matches
 * (each with a Choose button), and the chosen one with a way to change it.
 */
export function PersonPicker({
  label,
  hint,
  selected,
  onSelect,
  eligible,
}: {
  label: string;
  hint?: ReactNode;
  selected: Person | null;
  onSelect: (person: Person | null) => void;
  /** Why a match cannot be chosen (shown instead of the button), or null when it can. */
  eligible?: (person: Person) => string | null;
}) {
  const [query, setQuery] = useState('');
  const search = usePeopleSearch(query, 10);
  const listId = useId();
  if (selected) {
    return (
      <div className="field">
        <span className="field-label">{label}</span>
        <div className="picked">
          <PersonName name={selected.displayName} username={selected.username} />
          <Button className="btn-small" onClick={() => onSelect(null)}>
            Choose someone else
          </Button>
        </div>
      </div>
    );
  }
  const people = search.q ? (search.data?.people ?? []) : [];
  return (
    <div className="picker">
      <TextField
        label={label}
        hint={hint}
        type="search"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        autoComplete="off"
        maxLength={100}
        aria-controls={listId}
      />
      <p role="status" className="picker-status">
        {search.q && search.settled && !search.error ? resultCount(people.length) : ''}
        {search.q && !search.settled ? 'Searching…' : ''}
      </p>
      <ProblemNote error={search.error} />
      <ul className="list picker-results" id={listId}>
        {people.map((person) => {
          const reason = eligible?.(person) ?? null;
          return (
            <li key={person.id}>
              <PersonName
                name={person.displayName}
                username={person.username}
                email={person.email}
              />
              {reason ? (
                <span className="muted">{reason}</span>
              ) : (
                <Button
                  className="btn-small"
                  onClick={() => onSelect(person)}
                  aria-label={`Choose ${person.displayName}`}
                >
                  Choose
                </Button>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

// --- creating a project --------------------------------------------------------------

/** Key, name and description of a new project in one org (`POST /v1/orgs/:orgId/projects`). */
export function CreateProjectForm({
  orgId,
  onCreated,
  onCancel,
}: {
  orgId: string;
  onCreated: (project: Project) => void;
  onCancel?: () => void;
}) {
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [keyTouched, setKeyTouched] = useState(false);
  const [description, setDescription] = useState('');
  const [tried, setTried] = useState(false);
  const shownKey = keyTouched ? key : suggestProjectKey(name);
  const keyProblem = projectKeyProblem(shownKey);
  const nameProblem = name.trim() === '' ? 'Give the project a name.' : null;
  const create = useAction(async () =>
    api.post<{ project: Project }>(`/v1/orgs/${seg(orgId)}/projects`, {
      key: shownKey,
      name: name.trim(),
      ...(description.trim() ? { description: description.trim() } : {}),
    }),
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (keyProblem || nameProblem) return;
    const made = await create.run();
    if (made) onCreated(made.project);
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <div className="form-grid">
        <TextField
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={100}
          required
          error={tried ? nameProblem : null}
        />
        <TextField
          label="Key"
          hint="2–10 capitals and digits, starting with a letter. It prefixes the issue ids (APOLLO-12) and cannot be changed."
          value={shownKey}
          onChange={(e) => {
            setKeyTouched(true);
            setKey(e.target.value.toUpperCase());
          }}
          maxLength={10}
          required
          autoComplete="off"
          spellCheck={false}
          error={tried ? keyProblem : null}
        />
      </div>
      <TextArea
        label="Description (optional)"
        value={description}
        onChange={(e) => setDescription(e.target.value)}
        maxLength={2000}
      />
      <ProblemNote error={create.error} />
      <div className="btn-row">
        <Button type="submit" variant="primary" busy={create.busy}>
          Create project
        </Button>
        {onCancel ? <Button onClick={onCancel}>Cancel</Button> : null}
      </div>
    </form>
  );
}

// --- confirming a change ------------------------------------------------------------------

/**
 * A confirmation in a modal dialog, optionally with the "Linked issue" field
 * (changes inside a project). `onConfirm` gets the issue to send; the dialog
 * closes itself when it succeeds and shows the server's error when not.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  danger = false,
  issue,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** Ask for a linked issue of this project (key; '' when unknown). */
  issue?: IssueRule;
  onConfirm: (issue: string | undefined) => Promise<unknown>;
  onClose: () => void;
}) {
  return (
    <Dialog open={open} title={title} onClose={onClose}>
      <ConfirmBody
        confirmLabel={confirmLabel}
        danger={danger}
        issue={issue}
        onConfirm={onConfirm}
        onClose={onClose}
      >
        {children}
      </ConfirmBody>
    </Dialog>
  );
}

function ConfirmBody({
  children,
  confirmLabel,
  danger,
  issue,
  onConfirm,
  onClose,
}: {
  children: ReactNode;
  confirmLabel: string;
  danger: boolean;
  issue: IssueRule | undefined;
  onConfirm: (issue: string | undefined) => Promise<unknown>;
  onClose: () => void;
}) {
  const issueInput = useIssueInput(issue?.projectKey ?? '', issue?.required ?? false);
  const action = useAction(async (ref: string | undefined) => {
    await onConfirm(ref);
    return true;
  });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const resolved = issue ? issueInput.resolve() : { issue: undefined };
    if (!resolved) return;
    if (await action.run(resolved.issue)) onClose();
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <div className="confirm-text">{children}</div>
      {issue ? issueInput.field : null}
      <ProblemNote error={action.error} projectKey={issue?.projectKey ?? ''} />
      <div className="btn-row">
        <Button type="submit" variant={danger ? 'danger' : 'primary'} busy={action.busy}>
          {confirmLabel}
        </Button>
        <Button onClick={onClose}>Cancel</Button>
      </div>
    </form>
  );
}
