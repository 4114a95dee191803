/**
 * Why this issue changed: its field history (also the values that lost a
 * concurrent edit) and every audit-ledger entry citing it, each with an
 * inclusion proof that this browser checks against the signed ledger head.
 */
import { useId, useState } from 'react';
import { api, seg } from '../../api/client.ts';
import {
  type ProvedEntry,
  type VerifyReport,
  verifyEntriesAgainstCheckpoint,
} from '../../audit/verify.ts';
import {
  Banner,
  Button,
  Card,
  ErrorNote,
  formatDate,
  Spinner,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import { truncate } from './board-model.ts';

interface HistoryRow {
  field: string;
  value: unknown;
  hlc: string;
  opId: string;
  actorId: string;
  outcome: 'applied' | 'lost';
  lostTo: string | null;
  createdAt: string;
}

interface Activity {
  issue: { id: string; key: string };
  history: HistoryRow[];
  entries: ProvedEntry[];
  checkpoint: string;
}

const FIELD_WORDS: Record<string, string> = {
  title: 'Title',
  description: 'Description',
  status: 'Column',
  rank: 'Place in column',
  priority: 'Priority',
  labels: 'Labels',
  assignees: 'Assignees',
  dueDate: 'Due date',
  estimate: 'Estimate',
  checklist: 'Checklist',
  position: 'Column and place',
};

function valueText(field: string, value: unknown, nameOf: (id: string) => string): string {
  if (value === null || value === undefined || value === '') return 'nothing';
  if (field === 'assignees' && Array.isArray(value))
    return value.length ? value.map((v) => nameOf(String(v))).join(', ') : 'nobody';
  if (field === 'checklist' && Array.isArray(value)) {
    const done = value.filter((i) => (i as { done?: boolean }).done).length;
    return `${value.length} items, ${done} done`;
  }
  if (Array.isArray(value)) return value.length ? value.join(', ') : 'none';
  if (typeof value === 'string') return `“${truncate(value, 120)}”`;
  return truncate(JSON.stringify(value), 120);
}

/** A ledger entry's readable parts (RFC 8785 JSON: action, time, …), whatever else it holds. */
function entryParts(entry: unknown): { action: string; time: string | null } {
  if (typeof entry !== 'object' || entry === null) return { action: 'entry', time: null };
  const e = entry as Record<string, unknown>;
  return {
    action: typeof e.action === 'string' ? e.action : 'entry',
    time: typeof e.time === 'string' ? e.time : typeof e.at === 'string' ? e.at : null,
  };
}

export function IssueActivity({
  issueId,
  generation,
  nameOf,
}: {
  issueId: string;
  generation: number;
  nameOf: (userId: string) => string;
}) {
  const headingId = useId();
  const activity = useResource(`activity:${issueId}:${generation}`, (signal) =>
    api.get<Activity>(`/v1/issues/${seg(issueId)}/activity`, { signal }),
  );
  const [report, setReport] = useState<{ report: VerifyReport; checked: Activity } | null>(null);
  const verify = useAction(async (data: Activity) => {
    setReport(null);
    const result = await verifyEntriesAgainstCheckpoint(data.entries, data.checkpoint);
    setReport({ report: result, checked: data });
  });
  const data = activity.data;
  // A verdict is about the entries it checked; newer activity needs checking again.
  const shown = report && report.checked === data ? report.report : null;
  return (
    <Card>
      <h3 id={headingId}>Activity</h3>
      {!data ? (
        activity.error ? (
          <ErrorNote error={activity.error} />
        ) : (
          <Spinner label="Loading the activity…" />
        )
      ) : (
        <>
          <div className="btn-row">
            <Button
              onClick={() => void verify.run(data)}
              busy={verify.busy}
              disabled={data.entries.length === 0}
            >
              Verify
            </Button>
            <span className="muted">
              {data.entries.length === 1
                ? '1 ledger entry cites this issue.'
                : `${data.entries.length} ledger entries cite this issue.`}
            </span>
          </div>
          <ErrorNote error={verify.error} />
          {shown ? (
            shown.ok ? (
              <Banner tone="success">
                Verified against the signed ledger head (tree size {shown.treeSize}).
              </Banner>
            ) : (
              <Banner tone="danger">
                The audit trail for this issue could not be verified: {shown.problem}
                {shown.seq !== undefined ? ` (ledger entry ${shown.seq})` : ''}. Report this to your
                administrator.
              </Banner>
            )
          ) : null}
          <h4>Changes</h4>
          {data.history.length === 0 ? (
            <p className="muted">No recorded changes.</p>
          ) : (
            <ol className="issue-history" aria-label="Field changes, oldest first">
              {data.history
                .filter((h) => h.field !== 'rank')
                .map((h) => (
                  <li key={`${h.opId}:${h.field}:${h.outcome}`}>
                    {formatDate(h.createdAt)}: {nameOf(h.actorId)} set{' '}
                    {(FIELD_WORDS[h.field] ?? h.field).toLowerCase()} to{' '}
                    {valueText(h.field, h.value, nameOf)}
                    {h.outcome === 'lost' ? (
                      <span className="issue-lost"> (not applied: a later edit won)</span>
                    ) : null}
                  </li>
                ))}
            </ol>
          )}
          <h4>Ledger entries</h4>
          {data.entries.length === 0 ? (
            <p className="muted">No ledger entries cite this issue yet.</p>
          ) : (
            <ol className="issue-history" aria-label="Ledger entries citing this issue">
              {data.entries.map((e) => {
                const parts = entryParts(e.entry);
                return (
                  <li key={e.seq}>
                    #{e.seq} {parts.action}
                    {parts.time ? `, ${formatDate(parts.time)}` : ''}
                  </li>
                );
              })}
            </ol>
          )}
        </>
      )}
    </Card>
  );
}
