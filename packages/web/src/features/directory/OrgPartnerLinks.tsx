/**
 * An org's partner links (`GET /v1/orgs/:orgId/partner-links`, org admins):
 * the links of its own projects to partner orgs, and the links inviting it
 * into other orgs' projects. Pending invitations to this org are accepted
 * here; live links of either kind can be ended.
 */
import { useState } from 'react';
import { Link } from 'wouter';
import { api, seg } from '../../api/client.ts';
import {
  Badge,
  Banner,
  Button,
  Card,
  EmptyState,
  formatDate,
  Spinner,
  useResource,
} from '../../ui/components.tsx';
import { linkStatusLabel, linkStatusTone, roleLabel, splitLinks } from './logic.ts';
import { ConfirmDialog, orgLabel, ProblemNote, useOrgs } from './parts.tsx';
import type { Org, PartnerLink, Project } from './types.ts';

type Change = { kind: 'accept' | 'end'; link: PartnerLink };

export default function OrgPartnerLinks({ org, onChanged }: { org: Org; onChanged: () => void }) {
  const links = useResource(`org-links:${org.id}`, (signal) =>
    api.get<{ links: PartnerLink[] }>(`/v1/orgs/${seg(org.id)}/partner-links`, { signal }),
  );
  const orgs = useOrgs();
  const { outgoing, incoming } = splitLinks(links.data?.links ?? [], org.id);
  // Names of the projects: our own from the org's list; the inviting ones one by one.
  const projects = useResource(
    links.data ? `org-link-projects:${org.id}:${links.data.links.length}` : null,
    async (signal) => {
      const names = new Map<string, Project>();
      const own = await api
        .get<{ projects: Project[] }>(`/v1/orgs/${seg(org.id)}/projects`, { signal })
        .catch(() => ({ projects: [] as Project[] }));
      for (const p of own.projects) names.set(p.id, p);
      const foreign = [
        ...new Set(incoming.filter((l) => l.status !== 'ended').map((l) => l.projectId)),
      ];
      await Promise.all(
        foreign.map(async (id) => {
          try {
            const info = await api.get<{ project: Project }>(`/v1/projects/${seg(id)}`, { signal });
            names.set(id, info.project);
          } catch {
            // Ended or no longer visible: shown without a name.
          }
        }),
      );
      return names;
    },
  );
  const [change, setChange] = useState<Change | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const projectOf = (id: string) => projects.data?.get(id);
  const projectName = (id: string) => {
    const p = projectOf(id);
    return p ? `${p.key} · ${p.name}` : 'A project';
  };

  const table = (list: PartnerLink[], side: 'outgoing' | 'incoming') => (
    <div className="table-wrap">
      <table className="table stack-table">
        <caption className="visually-hidden">
          {side === 'outgoing' ? 'Partners in our projects' : 'Invitations to this organisation'}
        </caption>
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col">{side === 'outgoing' ? 'Partner' : 'Host'}</th>
            <th scope="col">Highest role</th>
            <th scope="col">Status</th>
            <th scope="col">Since</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.map((link) => {
            const other = side === 'outgoing' ? link.partnerOrgId : link.hostOrgId;
            const project = projectOf(link.projectId);
            return (
              <tr key={link.id}>
                <td className="primary" data-label="Project">
                  {project && link.status !== 'ended' ? (
                    <Link href={`/projects/${seg(link.projectId)}/members`}>
                      {projectName(link.projectId)}
                    </Link>
                  ) : (
                    projectName(link.projectId)
                  )}
                </td>
                <td data-label={side === 'outgoing' ? 'Partner' : 'Host'}>
                  {orgLabel(orgs.byId, other, 'A partner organisation')}
                </td>
                <td data-label="Highest role">{roleLabel[link.maxRole]}</td>
                <td data-label="Status">
                  <Badge tone={linkStatusTone[link.status]}>{linkStatusLabel[link.status]}</Badge>
                </td>
                <td data-label="Since">
                  {formatDate(link.endedAt ?? link.acceptedAt ?? link.createdAt)}
                </td>
                <td className="actions">
                  <span className="btn-row">
                    {side === 'incoming' && link.status === 'pending' ? (
                      <Button
                        className="btn-small"
                        variant="primary"
                        onClick={() => setChange({ kind: 'accept', link })}
                      >
                        Accept
                        <span className="visually-hidden">
                          {' '}
                          the link to {projectName(link.projectId)}
                        </span>
                      </Button>
                    ) : null}
                    {link.status !== 'ended' ? (
                      <Button
                        className="btn-small"
                        variant="danger"
                        onClick={() => setChange({ kind: 'end', link })}
                      >
                        {link.status === 'pending' && side === 'incoming' ? 'Decline' : 'End'}
                        <span className="visually-hidden">
                          {' '}
                          the link to {projectName(link.projectId)}
                        </span>
                      </Button>
                    ) : null}
                  </span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );

  const changing = change?.link;
  const changingProject = changing ? projectOf(changing.projectId) : undefined;
  return (
    <>
      {done ? (
        <Banner tone="success" actions={<Button onClick={() => setDone(null)}>Dismiss</Button>}>
          {done}
        </Banner>
      ) : null}
      <ProblemNote error={links.error} />
      {links.loading && !links.data ? <Spinner label="Loading partner links…" /> : null}
      {links.data ? (
        <>
          <Card>
            <h2>Invitations to {org.name}</h2>
            <p className="muted">
              Other organisations inviting yours into one of their projects. Accept to let your
              admins add your people there, each up to the highest role the link allows; decline or
              end it at any time — everyone who joined through it leaves the project at once.
            </p>
            {incoming.length === 0 ? (
              <EmptyState title="No invitations from other organisations" />
            ) : (
              table(incoming, 'incoming')
            )}
          </Card>
          <Card>
            <h2>Partners in {org.name}’s projects</h2>
            <p className="muted">
              Links from your projects to partner organisations. Create one from a project’s Members
              tab; it stays pending until the partner’s admins accept it.
            </p>
            {outgoing.length === 0 ? (
              <EmptyState title="No partner links yet" />
            ) : (
              table(outgoing, 'outgoing')
            )}
          </Card>
        </>
      ) : null}
      <ConfirmDialog
        open={change !== null}
        title={
          change?.kind === 'accept'
            ? 'Accept this partner link?'
            : changing?.status === 'pending' && changing.partnerOrgId === org.id
              ? 'Decline this partner link?'
              : 'End this partner link?'
        }
        confirmLabel={change?.kind === 'accept' ? 'Accept link' : 'End link'}
        danger={change?.kind === 'end'}
        {...(change?.kind === 'end'
          ? { issue: { projectKey: changingProject?.key ?? '', required: false } }
          : {})}
        onClose={() => setChange(null)}
        onConfirm={async (issue) => {
          if (!change) return;
          if (change.kind === 'accept') {
            await api.post(`/v1/partner-links/${seg(change.link.id)}/accept`);
            setDone(
              `The link to ${projectName(change.link.projectId)} is active. Open the project’s Members tab to add your people.`,
            );
          } else {
            const answer = await api.delete<{ removedMembers: number }>(
              `/v1/partner-links/${seg(change.link.id)}`,
              { issue },
            );
            setDone(
              `The link to ${projectName(change.link.projectId)} has ended; ${answer.removedMembers} ${answer.removedMembers === 1 ? 'person' : 'people'} left the project.`,
            );
          }
          links.reload();
          onChanged();
        }}
      >
        {change?.kind === 'accept' ? (
          <p>
            {orgLabel(orgs.byId, change.link.hostOrgId, 'The host organisation')} invites {org.name}{' '}
            into {projectName(change.link.projectId)}. Once accepted, your admins can add your
            people there, each at most as {roleLabel[change.link.maxRole].toLowerCase()}. The
            project’s security rules for outsiders will apply to them there.
          </p>
        ) : change ? (
          <p>
            Everyone who joined {projectName(change.link.projectId)} through this link leaves it at
            once. This cannot be undone; a new link would have to be created and accepted again.
          </p>
        ) : null}
      </ConfirmDialog>
    </>
  );
}
