/**
 * One org (`GET /v1/orgs/:orgId`): its projects, and for the people allowed
 * to see them its accounts, groups and partner links, as sections picked by
 * `?tab=`. Owners and admins also find the link to the org admin page.
 */
import { type ReactNode, useState } from 'react';
import { Link, useSearchParams } from 'wouter';
import { api, seg } from '../../api/client.ts';
import {
  Badge,
  Banner,
  Button,
  Card,
  EmptyState,
  formatDate,
  PageHeader,
  Spinner,
  useResource,
} from '../../ui/components.tsx';
import { orgRoleLabel } from './logic.ts';
import OrgGroups from './OrgGroups.tsx';
import OrgPartnerLinks from './OrgPartnerLinks.tsx';
import OrgPeople from './OrgPeople.tsx';
import { CreateProjectForm, ProblemNote, useViewer } from './parts.tsx';
import type { Org, OrgRole, Project } from './types.ts';

type Tab = 'projects' | 'people' | 'groups' | 'partners';

export default function OrgPage({ orgId, onChanged }: { orgId: string; onChanged: () => void }) {
  const viewer = useViewer();
  const [params] = useSearchParams();
  const info = useResource(`org:${orgId}`, (signal) =>
    api.get<{ org: Org; role: OrgRole | null }>(`/v1/orgs/${seg(orgId)}`, { signal }),
  );
  if (!info.data) {
    return info.error ? (
      <>
        <PageHeader title="Organisation" />
        <ProblemNote error={info.error} />
        <Link href="/orgs">Back to the organisations</Link>
      </>
    ) : (
      <Spinner label="Loading the organisation…" />
    );
  }
  const { org, role } = info.data;
  const isAdmin = role === 'owner' || role === 'admin';
  const isMember = role !== null && role !== 'guest';
  // The account list is the caller's own org's (GET /v1/admin/users).
  const showPeople = isAdmin && viewer.orgId === org.id;
  const tabs: { id: Tab; label: string }[] = [
    { id: 'projects', label: 'Projects' },
    ...(showPeople ? [{ id: 'people' as const, label: 'People' }] : []),
    ...(isMember ? [{ id: 'groups' as const, label: 'Groups' }] : []),
    ...(isAdmin ? [{ id: 'partners' as const, label: 'Partner links' }] : []),
  ];
  const asked = params.get('tab');
  const tab: Tab = tabs.find((t) => t.id === asked)?.id ?? 'projects';
  const href = (id: Tab) => `/orgs/${seg(org.id)}${id === 'projects' ? '' : `?tab=${id}`}`;

  return (
    <>
      <PageHeader
        title={org.name}
        subtitle={
          <>
            <code>{org.slug}</code>
            {role ? (
              <>
                {' · '}
                <Badge tone={isAdmin ? 'info' : 'neutral'}>
                  {role === 'guest' ? 'You are a guest here' : `You: ${orgRoleLabel[role]}`}
                </Badge>
              </>
            ) : null}
          </>
        }
        actions={
          isAdmin ? (
            <Link className="btn btn-secondary" href={`/orgs/${seg(org.id)}/admin`}>
              Org settings &amp; security policy
            </Link>
          ) : null
        }
      />
      {role === null && viewer.isAdmin ? (
        <Banner tone="info">
          As installation admin you see this organisation’s name, but not its people or projects:
          inside an organisation you are not part of, you are a stranger.
        </Banner>
      ) : null}
      {tabs.length > 1 ? (
        <nav className="tabs" aria-label="Organisation sections">
          {tabs.map((t) => (
            <Link key={t.id} href={href(t.id)} aria-current={t.id === tab ? 'page' : undefined}>
              {t.label}
            </Link>
          ))}
        </nav>
      ) : null}
      {tab === 'projects' ? (
        <OrgProjects
          org={org}
          isAdmin={isAdmin}
          startCreating={params.get('create') === '1'}
          onChanged={onChanged}
        />
      ) : null}
      {tab === 'people' ? <OrgPeople org={org} viewerRole={role} /> : null}
      {tab === 'groups' ? <OrgGroups org={org} isAdmin={isAdmin} /> : null}
      {tab === 'partners' ? <OrgPartnerLinks org={org} onChanged={onChanged} /> : null}
    </>
  );
}

function OrgProjects({
  org,
  isAdmin,
  startCreating,
  onChanged,
}: {
  org: Org;
  isAdmin: boolean;
  startCreating: boolean;
  onChanged: () => void;
}) {
  const [creating, setCreating] = useState(isAdmin && startCreating);
  const [created, setCreated] = useState<Project | null>(null);
  const projects = useResource(`org-projects:${org.id}`, (signal) =>
    api.get<{ projects: Project[] }>(`/v1/orgs/${seg(org.id)}/projects`, { signal }),
  );
  const list = [...(projects.data?.projects ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  let body: ReactNode = null;
  if (projects.loading && !projects.data) body = <Spinner label="Loading projects…" />;
  else if (projects.data && list.length === 0) {
    body = (
      <EmptyState title="No projects to show">
        <p>
          {isAdmin
            ? 'This organisation has no projects yet. Create the first one.'
            : 'You see the projects you belong to, and you belong to none here yet. An admin can add you.'}
        </p>
      </EmptyState>
    );
  } else if (list.length > 0) {
    body = (
      <div className="table-wrap">
        <table className="table stack-table">
          <caption className="visually-hidden">Projects of {org.name}</caption>
          <thead>
            <tr>
              <th scope="col">Project</th>
              <th scope="col">Key</th>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {list.map((p) => (
              <tr key={p.id}>
                <td className="primary" data-label="Project">
                  <Link href={`/projects/${seg(p.id)}`} className="person-name">
                    {p.name}
                  </Link>
                </td>
                <td data-label="Key">
                  <code>{p.key}</code>
                </td>
                <td data-label="Description">{p.description ?? '—'}</td>
                <td data-label="Created">{formatDate(p.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  return (
    <>
      {created ? (
        <Banner
          tone="success"
          title={`${created.key} · ${created.name} was created`}
          actions={
            <Link className="btn btn-primary" href={`/projects/${seg(created.id)}/members`}>
              Add people
            </Link>
          }
        >
          You are its owner. Add people, groups or a partner organisation from its Members tab.
        </Banner>
      ) : null}
      {isAdmin && creating ? (
        <Card>
          <h2>New project</h2>
          <CreateProjectForm
            orgId={org.id}
            onCancel={() => setCreating(false)}
            onCreated={(project) => {
              setCreating(false);
              setCreated(project);
              projects.reload();
              onChanged();
            }}
          />
        </Card>
      ) : null}
      <Card>
        <div className="section-head">
          <h2>Projects{projects.data ? ` (${list.length})` : ''}</h2>
          {isAdmin && !creating ? (
            <Button
              variant="primary"
              onClick={() => {
                setCreated(null);
                setCreating(true);
              }}
            >
              New project
            </Button>
          ) : null}
        </div>
        <ProblemNote error={projects.error} />
        {body}
      </Card>
    </>
  );
}
