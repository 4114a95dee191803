/**
 * Partner links of one project. Project admins list them, create one (the
 * partner org's slug and the highest role its people may get) and end them.
 * A partner org's admins see their own link: accept it while pending, end it.
 */
import { type FormEvent, useState } from 'react';
import { useLocation } from 'wouter';
import { api, seg } from '../../api/client.ts';
import {
  Badge,
  Banner,
  Button,
  Card,
  EmptyState,
  formatDate,
  SelectField,
  Spinner,
  TextField,
  useAction,
} from '../../ui/components.tsx';
import {
  linkStatusLabel,
  linkStatusTone,
  maxRoleChoices,
  roleLabel,
  slugProblem,
} from './logic.ts';
import { ConfirmDialog, type IssueRule, ProblemNote, useIssueInput } from './parts.tsx';
import type { LinkRole, Org, PartnerLink, Project } from './types.ts';

export function ProjectPartnerLinks({
  project,
  links,
  loading,
  orgs,
  issueRule,
  onChanged,
}: {
  project: Project;
  links: PartnerLink[] | undefined;
  loading: boolean;
  orgs: Map<string, Org>;
  issueRule: IssueRule;
  onChanged: () => void;
}) {
  // The slug typed when a link was made here: the host's admins may not otherwise see the partner's name.
  const [slugs, setSlugs] = useState<Record<string, string>>({});
  const [ending, setEnding] = useState<PartnerLink | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const partnerName = (l: PartnerLink) =>
    orgs.get(l.partnerOrgId)?.name ?? slugs[l.id] ?? 'A partner organisation';
  const list = [...(links ?? [])].sort(
    (a, b) =>
      Number(a.status === 'ended') - Number(b.status === 'ended') ||
      b.createdAt.localeCompare(a.createdAt),
  );

  return (
    <Card>
      <h2>Partner organisations</h2>
      <p className="muted">
        A partner link invites another organisation into this project. It stays pending until that
        organisation’s admins accept it; then they add their own people, each at most with the
        link’s highest role. Ending it removes everyone who joined through it at once.
      </p>
      {notice ? (
        <Banner tone="success" actions={<Button onClick={() => setNotice(null)}>Dismiss</Button>}>
          {notice}
        </Banner>
      ) : null}
      <CreatePartnerLink
        project={project}
        issueRule={issueRule}
        onCreated={(link, slug) => {
          setSlugs((s) => ({ ...s, [link.id]: slug }));
          setNotice(
            `The link to ${slug} is pending. Tell ${slug}’s admins: they accept it under their organisation’s Partner links.`,
          );
          onChanged();
        }}
      />
      <h3 className="spaced">Links{links ? ` (${list.length})` : ''}</h3>
      {loading && !links ? <Spinner label="Loading partner links…" /> : null}
      {links && list.length === 0 ? <EmptyState title="No partner organisations yet" /> : null}
      {list.length > 0 ? (
        <div className="table-wrap">
          <table className="table stack-table">
            <caption className="visually-hidden">Partner links of {project.name}</caption>
            <thead>
              <tr>
                <th scope="col">Partner</th>
                <th scope="col">Highest role</th>
                <th scope="col">Status</th>
                <th scope="col">Since</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((l) => (
                <tr key={l.id}>
                  <td className="primary" data-label="Partner">
                    <span className="person-name">{partnerName(l)}</span>
                  </td>
                  <td data-label="Highest role">{roleLabel[l.maxRole]}</td>
                  <td data-label="Status">
                    <Badge tone={linkStatusTone[l.status]}>{linkStatusLabel[l.status]}</Badge>
                    {l.status === 'pending' ? (
                      <span className="person-sub"> waiting for their admins</span>
                    ) : null}
                  </td>
                  <td data-label="Since">{formatDate(l.endedAt ?? l.acceptedAt ?? l.createdAt)}</td>
                  <td className="actions">
                    {l.status !== 'ended' ? (
                      <Button className="btn-small" variant="danger" onClick={() => setEnding(l)}>
                        End<span className="visually-hidden"> the link with {partnerName(l)}</span>
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
        open={ending !== null}
        title={ending ? `End the link with ${partnerName(ending)}?` : 'End the link?'}
        confirmLabel="End link"
        danger
        issue={issueRule}
        onClose={() => setEnding(null)}
        onConfirm={async (issue) => {
          if (!ending) return;
          const answer = await api.delete<{ removedMembers: number }>(
            `/v1/partner-links/${seg(ending.id)}`,
            { issue },
          );
          setNotice(
            `The link with ${partnerName(ending)} has ended; ${answer.removedMembers} ${answer.removedMembers === 1 ? 'person' : 'people'} left the project.`,
          );
          onChanged();
        }}
      >
        <p>
          Everyone who joined through it leaves {project.name} at once. To work together again, a
          new link has to be created and accepted.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

function CreatePartnerLink({
  project,
  issueRule,
  onCreated,
}: {
  project: Project;
  issueRule: IssueRule;
  onCreated: (link: PartnerLink, slug: string) => void;
}) {
  const [slug, setSlug] = useState('');
  const [maxRole, setMaxRole] = useState<LinkRole>('member');
  const [slugError, setSlugError] = useState<string | null>(null);
  const issue = useIssueInput(issueRule.projectKey, issueRule.required);
  const create = useAction(async (partnerOrg: string, ref: string | undefined) =>
    api.post<{ link: PartnerLink }>(
      `/v1/projects/${seg(project.id)}/partner-links`,
      { partnerOrg, maxRole },
      { issue: ref },
    ),
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = slug.trim().toLowerCase();
    const problem = slugProblem(value);
    setSlugError(
      problem ? problem.replace('Give the org a slug.', 'Give the partner’s slug.') : null,
    );
    const resolved = issue.resolve();
    if (problem || !resolved) return;
    const made = await create.run(value, resolved.issue);
    if (made) {
      setSlug('');
      issue.reset();
      onCreated(made.link, value);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <h3>Invite a partner organisation</h3>
      <div className="inline-fields">
        <TextField
          label="Partner organisation’s slug"
          hint="Ask the partner for it, e.g. globex."
          value={slug}
          onChange={(e) => {
            setSlug(e.target.value);
            setSlugError(null);
          }}
          maxLength={40}
          autoComplete="off"
          spellCheck={false}
          required
          error={slugError}
        />
        <SelectField
          label="Highest role for their people"
          value={maxRole}
          onChange={(e) => setMaxRole(e.target.value as LinkRole)}
          options={maxRoleChoices}
        />
      </div>
      {issue.field}
      <ProblemNote error={create.error} projectKey={project.key} />
      <Button type="submit" variant="primary" busy={create.busy}>
        Create partner link
      </Button>
    </form>
  );
}

/** For a partner org's admins: their own link to this project. */
export function OwnPartnerLink({
  link,
  project,
  orgName,
  issueRule,
  onChanged,
}: {
  link: PartnerLink;
  project: Project;
  orgName: string;
  issueRule: IssueRule;
  onChanged: () => void;
}) {
  const [change, setChange] = useState<'accept' | 'end' | null>(null);
  const [, navigate] = useLocation();
  return (
    <Card>
      <div className="section-head">
        <h2>Partner link of {orgName}</h2>
        <Badge tone={linkStatusTone[link.status]}>{linkStatusLabel[link.status]}</Badge>
      </div>
      {link.status === 'pending' ? (
        <p>
          This project invites {orgName}. Accept to add your people here, each at most as{' '}
          {roleLabel[link.maxRole].toLowerCase()}; until then you can look, but not add anyone.
        </p>
      ) : (
        <p>
          Active since {formatDate(link.acceptedAt)}. You add and remove your own people below, each
          at most as {roleLabel[link.maxRole].toLowerCase()}. Ending the link removes all of them
          from the project at once.
        </p>
      )}
      <div className="btn-row">
        {link.status === 'pending' ? (
          <Button variant="primary" onClick={() => setChange('accept')}>
            Accept link
          </Button>
        ) : null}
        <Button variant="danger" onClick={() => setChange('end')}>
          {link.status === 'pending' ? 'Decline' : 'End link'}
        </Button>
      </div>
      <ConfirmDialog
        open={change !== null}
        title={
          change === 'accept'
            ? `Accept the link to ${project.name}?`
            : `End the link to ${project.name}?`
        }
        confirmLabel={change === 'accept' ? 'Accept link' : 'End link'}
        danger={change === 'end'}
        {...(change === 'end' ? { issue: issueRule } : {})}
        onClose={() => setChange(null)}
        onConfirm={async (issue) => {
          if (change === 'accept') {
            await api.post(`/v1/partner-links/${seg(link.id)}/accept`);
            onChanged();
          } else {
            await api.delete(`/v1/partner-links/${seg(link.id)}`, { issue });
            // The project is gone for this org now: back to its partner links.
            navigate(`~/orgs/${seg(link.partnerOrgId)}?tab=partners`);
          }
        }}
      >
        {change === 'accept' ? (
          <p>
            Your people here will be held to this project’s security rules for outsiders, which may
            be stricter than your organisation’s.
          </p>
        ) : (
          <p>Everyone of {orgName} who joined through this link leaves the project at once.</p>
        )}
      </ConfirmDialog>
    </Card>
  );
}
