/**
 * A project's invitations (project admins): the list with states, a new one
 * bound to an e-mail address or a domain (its accept link shown once), and
 * revoking an open one.
 */
import { type FormEvent, useState } from 'react';
import { api, seg } from '../../api/client.ts';
import {
  Badge,
  Button,
  Card,
  EmptyState,
  formatDate,
  SelectField,
  Spinner,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import {
  invitationStateLabel,
  invitationStateTone,
  inviteTarget,
  relativeTime,
  roleLabel,
  sortInvitations,
} from './logic.ts';
import { ConfirmDialog, CopyOnce, type IssueRule, ProblemNote, useIssueInput } from './parts.tsx';
import type { Invitation, LinkRole, Project } from './types.ts';

const expiryChoices = [
  { value: '24', label: '1 day' },
  { value: '48', label: '2 days' },
  { value: '168', label: '7 days (default)' },
  { value: '336', label: '14 days' },
  { value: '720', label: '30 days (longest)' },
];

interface Issued {
  invitation: Invitation;
  acceptUrl: string;
}

export default function ProjectInvitations({
  project,
  issueRule,
}: {
  project: Project;
  issueRule: IssueRule;
}) {
  const invitations = useResource(`project-invitations:${project.id}`, (signal) =>
    api.get<{ invitations: Invitation[] }>(`/v1/projects/${seg(project.id)}/invitations`, {
      signal,
    }),
  );
  const [issued, setIssued] = useState<Issued | null>(null);
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const list = sortInvitations(invitations.data?.invitations ?? []);
  const target = (i: Invitation) => i.email ?? `anyone at ${i.domain ?? '?'}`;

  return (
    <Card>
      <h2>Invitations</h2>
      <p className="muted">
        An invitation asks one person in, by e-mail address or by domain. It works once, expires,
        and can be revoked while open. People without an account can join as a guest with an e-mail
        invitation; people of another organisation only through its active partner link.
      </p>
      {issued ? (
        <CopyOnce
          title={`Invitation for ${target(issued.invitation)} — send this link`}
          url={issued.acceptUrl}
          expiresAt={issued.invitation.expiresAt}
          onDone={() => setIssued(null)}
          level={3}
        >
          <p>
            Whoever opens it signs in (or, for an e-mail invitation, creates a guest account) and
            joins {project.name} as {roleLabel[issued.invitation.role].toLowerCase()}; their address
            must match the invitation.
          </p>
        </CopyOnce>
      ) : null}
      <CreateInvitation
        project={project}
        issueRule={issueRule}
        onIssued={(made) => {
          setIssued(made);
          invitations.reload();
        }}
      />
      <h3 className="spaced">Sent{invitations.data ? ` (${list.length})` : ''}</h3>
      <ProblemNote error={invitations.error} projectKey={project.key} />
      {invitations.loading && !invitations.data ? <Spinner label="Loading invitations…" /> : null}
      {invitations.data && list.length === 0 ? <EmptyState title="No invitations yet" /> : null}
      {list.length > 0 ? (
        <div className="table-wrap">
          <table className="table stack-table">
            <caption className="visually-hidden">Invitations to {project.name}</caption>
            <thead>
              <tr>
                <th scope="col">For</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((i) => (
                <tr key={i.id}>
                  <td className="primary" data-label="For">
                    <span className="person-name">{target(i)}</span>
                  </td>
                  <td data-label="Role">{roleLabel[i.role]}</td>
                  <td data-label="State">
                    <Badge tone={invitationStateTone[i.state]}>
                      {invitationStateLabel[i.state]}
                    </Badge>
                  </td>
                  <td data-label="Expires">
                    {i.state === 'open' ? (
                      <span title={formatDate(i.expiresAt)}>{relativeTime(i.expiresAt)}</span>
                    ) : (
                      <span className="muted">{formatDate(i.expiresAt)}</span>
                    )}
                  </td>
                  <td className="actions">
                    {i.state === 'open' ? (
                      <Button className="btn-small" variant="danger" onClick={() => setRevoking(i)}>
                        Revoke
                        <span className="visually-hidden"> the invitation for {target(i)}</span>
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={revoking !== null}
        title="Revoke this invitation?"
        confirmLabel="Revoke invitation"
        danger
        issue={issueRule}
        onClose={() => setRevoking(null)}
        onConfirm={async (issue) => {
          if (!revoking) return;
          await api.delete(`/v1/invitations/${seg(revoking.id)}`, { issue });
          invitations.reload();
        }}
      >
        <p>
          The link sent to {revoking ? target(revoking) : 'them'} stops working at once. Nobody who
          joined already is affected.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

function CreateInvitation({
  project,
  issueRule,
  onIssued,
}: {
  project: Project;
  issueRule: IssueRule;
  onIssued: (made: Issued) => void;
}) {
  const [who, setWho] = useState('');
  const [role, setRole] = useState<LinkRole>('member');
  const [hours, setHours] = useState('168');
  const [whoError, setWhoError] = useState<string | null>(null);
  const issue = useIssueInput(issueRule.projectKey, issueRule.required);
  const create = useAction(async (body: Record<string, unknown>, ref: string | undefined) =>
    api.post<Issued & { token: string }>(`/v1/projects/${seg(project.id)}/invitations`, body, {
      issue: ref,
    }),
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const parsed = inviteTarget(who);
    const problem = 'error' in parsed ? parsed.error : null;
    setWhoError(problem);
    const resolved = issue.resolve();
    if (problem || !resolved || 'error' in parsed) return;
    const made = await create.run(
      { ...parsed, role, expiresInHours: Number(hours) },
      resolved.issue,
    );
    if (made) {
      setWho('');
      issue.reset();
      onIssued({ invitation: made.invitation, acceptUrl: made.acceptUrl });
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <h3>New invitation</h3>
      <TextField
        label="E-mail address or domain"
        hint="dana@example.org invites that one address; example.org invites any one person with an address there (they need an account)."
        value={who}
        onChange={(e) => {
          setWho(e.target.value);
          setWhoError(null);
        }}
        maxLength={254}
        autoComplete="off"
        spellCheck={false}
        required
        error={whoError}
      />
      <div className="inline-fields">
        <SelectField
          label="Role"
          value={role}
          onChange={(e) => setRole(e.target.value as LinkRole)}
          options={[
            { value: 'member', label: 'Member' },
            { value: 'viewer', label: 'Viewer' },
            { value: 'admin', label: 'Admin' },
          ]}
        />
        <SelectField
          label="Expires after"
          value={hours}
          onChange={(e) => setHours(e.target.value)}
          options={expiryChoices}
        />
      </div>
      {issue.field}
      <ProblemNote error={create.error} projectKey={project.key} />
      <Button type="submit" variant="primary" busy={create.busy}>
        Create invitation
      </Button>
    </form>
  );
}
