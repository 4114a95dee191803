/**
 * The audit ledger browser shared by the installation admin, org admin and
 * "My activity" screens: filters, paging by sequence number, each entry
 * expandable to its JSON, and "Verify in this browser" (src/audit/verify.ts).
 */
import { type FormEvent, useCallback, useId, useState } from 'react';
import { api } from '../../api/client.ts';
import { type VerifyReport, verifyAuditPage } from '../../audit/verify.ts';
import {
  Badge,
  Banner,
  Button,
  EmptyState,
  ErrorNote,
  formatDate,
  SelectField,
  Spinner,
  TextField,
  useResource,
} from '../../ui/components.tsx';
import './admin.css';

export interface AuditRecord {
  seq: number;
  entry: AuditEntryView | null;
  leafHash: string;
  pruned: boolean;
  personal: unknown;
}

export interface AuditEntryView {
  v: number;
  seq: number;
  time: string;
  action: string;
  actor: {
    kind: string;
    userId: string | null;
    sessionId: string | null;
    sourceHash: string | null;
    channel: string;
  };
  target: { type: string; id: string | null };
  issue: string | null;
  org?: string | null;
  project?: string | null;
  [key: string]: unknown;
}

type FilterKey = 'actor' | 'action' | 'since' | 'until' | 'issue' | 'project' | 'org';

const filterLabels: Record<FilterKey, { label: string; hint: string; type?: string }> = {
  actor: { label: 'Actor (user id)', hint: 'The id of the person who acted.' },
  action: { label: 'Action', hint: 'For example user.create, or user.* for a domain.' },
  since: { label: 'Since', hint: 'Entries at or after this time.', type: 'datetime-local' },
  until: { label: 'Until', hint: 'Entries before this time.', type: 'datetime-local' },
  issue: { label: 'Linked issue', hint: 'For example APOLLO-12.' },
  project: { label: 'Project (id)', hint: 'Only entries about this project.' },
  org: { label: 'Org (id)', hint: 'Only entries about this org.' },
};

const pageSizes = ['25', '50', '100', '250'];

function toQuery(filters: Partial<Record<FilterKey, string>>, from: number, limit: number) {
  const params = new URLSearchParams({ from: String(from), limit: String(limit) });
  for (const [key, raw] of Object.entries(filters)) {
    const value = raw?.trim();
    if (!value) continue;
    if (key === 'since' || key === 'until') {
      const date = new Date(value);
      params.set(key, Number.isNaN(date.getTime()) ? value : date.toISOString());
    } else params.set(key, value);
  }
  return params.toString();
}

function actorText(entry: AuditEntryView): string {
  const a = entry.actor;
  if (a.kind === 'operator') return `operator token (${a.channel})`;
  if (a.kind === 'system') return `system (${a.channel})`;
  return `${a.userId ? `user ${a.userId.slice(0, 8)}…` : 'user'} (${a.channel})`;
}

/** The outcome of "Verify in this browser", in plain words. */
export function VerifyOutcome({ report }: { report: VerifyReport }) {
  if (!report.ok)
    return (
      <Banner
        tone="danger"
        title={
          report.seq !== undefined
            ? `Verification failed at entry ${report.seq}`
            : 'Verification failed'
        }
      >
        {report.problem}
      </Banner>
    );
  return (
    <Banner tone="success" title="Verified in this browser">
      {report.checked === 0
        ? `The signed head (tree size ${report.treeSize}) is valid and extends what this browser saw before.`
        : `${report.checked} ${report.checked === 1 ? 'entry is' : 'entries are'} in the signed ledger of ${report.treeSize} entries: each one's content matches its fingerprint, its proof leads to the signed root, the head is signed with the key pinned on this device and extends the last head this browser verified.`}
      {report.pruned
        ? ` ${report.pruned} emptied by retention were checked by fingerprint only.`
        : ''}
      {report.notYetSigned
        ? ` ${report.notYetSigned} newer ${report.notYetSigned === 1 ? 'entry is' : 'entries are'} not covered by a signed head yet (heads are signed every 5 minutes); verify again later.`
        : ''}
      {report.keyPinnedNow
        ? ' This was the first check on this device: the ledger key is now pinned here, and a different key later will be reported.'
        : ''}
    </Banner>
  );
}

/** Preformatted text that may scroll sideways: a labelled region reachable by keyboard. */
export function ScrollBlock({ label, children }: { label: string; children: string }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (axe scrollable-region-focusable)
    <section className="json-block" aria-label={label} tabIndex={0}>
      <pre>{children}</pre>
    </section>
  );
}

export function AuditEntryRow({ record }: { record: AuditRecord }) {
  const entry = record.entry;
  return (
    <details className="audit-row">
      <summary>
        <span className="mono">#{record.seq}</span>
        {entry ? (
          <>
            <span className="audit-action">{entry.action}</span>
            <span className="muted">{formatDate(entry.time)}</span>
            <span className="muted wrap-anywhere">{actorText(entry)}</span>
            <span className="muted wrap-anywhere">
              {entry.target.type}
              {entry.target.id ? ` ${entry.target.id}` : ''}
            </span>
            {entry.issue ? <Badge tone="info">{entry.issue}</Badge> : null}
          </>
        ) : (
          <Badge tone="warning">Emptied by retention</Badge>
        )}
      </summary>
      <ScrollBlock label={`Entry ${record.seq} as JSON`}>
        {JSON.stringify(record, null, 2)}
      </ScrollBlock>
    </details>
  );
}

/**
 * Filters, pages and verifies entries from one of the entries routes.
 * `filters` lists which filters the route takes; `signHead` lets the
 * installation admin have the current head signed before verifying.
 */
export function AuditBrowser({
  path,
  filters,
  signHead = false,
  title = 'Audit entries',
  intro,
}: {
  path: string;
  filters: FilterKey[];
  signHead?: boolean;
  title?: string;
  intro?: string;
}) {
  const titleId = useId();
  const [draft, setDraft] = useState<Partial<Record<FilterKey, string>>>({});
  const [applied, setApplied] = useState<Partial<Record<FilterKey, string>>>({});
  const [limit, setLimit] = useState(50);
  const [starts, setStarts] = useState<number[]>([0]);
  const from = starts.at(-1) ?? 0;
  const query = toQuery(applied, from, limit);
  const page = useResource(`${path}?${query}`, (signal) =>
    api.get<{ entries: AuditRecord[] }>(`${path}?${query}`, { signal }),
  );
  const [verifying, setVerifying] = useState(false);
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [verifyError, setVerifyError] = useState<unknown>(null);

  const entries = page.data?.entries ?? [];
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setApplied(draft);
    setStarts([0]);
    setReport(null);
  };
  const verify = useCallback(async () => {
    setVerifying(true);
    setReport(null);
    setVerifyError(null);
    try {
      setReport(
        await verifyAuditPage(
          entries.map((e) => ({ seq: e.seq, entry: e.entry, leafHash: e.leafHash })),
          { signHead },
        ),
      );
    } catch (error) {
      setVerifyError(error);
    } finally {
      setVerifying(false);
    }
  }, [entries, signHead]);

  return (
    <section aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      {intro ? <p className="muted">{intro}</p> : null}
      <form onSubmit={apply} aria-label="Filter entries">
        <div className="filter-grid">
          {filters.map((key) => (
            <TextField
              key={key}
              label={filterLabels[key].label}
              hint={filterLabels[key].hint}
              type={filterLabels[key].type ?? 'text'}
              value={draft[key] ?? ''}
              onChange={(e) => setDraft((d) => ({ ...d, [key]: e.target.value }))}
            />
          ))}
          <SelectField
            label="Entries per page"
            value={String(limit)}
            options={pageSizes.map((s) => ({ value: s, label: s }))}
            onChange={(e) => {
              setLimit(Number(e.target.value));
              setStarts([0]);
            }}
          />
        </div>
        <div className="btn-row">
          <Button type="submit" variant="primary">
            Apply filters
          </Button>
          <Button
            onClick={() => {
              setDraft({});
              setApplied({});
              setStarts([0]);
              setReport(null);
            }}
          >
            Clear
          </Button>
          <Button onClick={() => void verify()} busy={verifying} disabled={entries.length === 0}>
            Verify in this browser
          </Button>
        </div>
      </form>
      <div aria-live="polite">
        {report ? <VerifyOutcome report={report} /> : null}
        <ErrorNote error={verifyError} />
      </div>
      <ErrorNote error={page.error} />
      {page.loading && !page.data ? <Spinner label="Loading entries…" /> : null}
      {page.data && entries.length === 0 ? (
        <EmptyState title="No entries">
          <p>Nothing matches these filters on this page of the ledger.</p>
        </EmptyState>
      ) : null}
      {entries.length > 0 ? (
        <ul className="audit-list" aria-label="Entries">
          {entries.map((record) => (
            <li key={record.seq}>
              <AuditEntryRow record={record} />
            </li>
          ))}
        </ul>
      ) : null}
      <nav className="pager" aria-label="Entry pages">
        <span className="muted">
          {entries.length > 0
            ? `Entries ${entries[0]?.seq} to ${entries.at(-1)?.seq}`
            : `From entry ${from}`}
        </span>
        <div className="btn-row">
          <Button
            disabled={starts.length <= 1}
            onClick={() => {
              setStarts((s) => s.slice(0, -1));
              setReport(null);
            }}
          >
            Previous page
          </Button>
          <Button
            disabled={entries.length < limit}
            onClick={() => {
              setStarts((s) => [...s, (entries.at(-1)?.seq ?? from) + 1]);
              setReport(null);
            }}
          >
            Next page
          </Button>
        </div>
      </nav>
      <p className="muted">Reading entries is itself recorded in the ledger.</p>
    </section>
  );
}
