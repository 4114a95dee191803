/**
 * One project: its header and tabs (board, chat, members, settings), each
 * tab a nested route under /projects/:projectId.
 */
import { lazy, Suspense } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { seg } from '../../api/client.ts';
import { cachedGet } from '../../offline/cached-get.ts';
import { useVaultState } from '../../offline/vault.ts';
import { Badge, ErrorNote, PageHeader, Spinner, useResource } from '../../ui/components.tsx';

const BoardPage = lazy(() => import('../board/BoardPage.tsx'));
const IssuePage = lazy(() => import('../board/IssuePage.tsx'));
const ChatPage = lazy(() => import('../chat/ChatPage.tsx'));
const ProjectMembersPage = lazy(() => import('../directory/ProjectMembersPage.tsx'));
const ProjectSettingsPage = lazy(() => import('../admin/ProjectSettingsPage.tsx'));

export interface ProjectInfo {
  project: {
    id: string;
    orgId: string;
    key: string;
    name: string;
    description: string | null;
    createdAt: string;
    updatedAt: string;
  };
  role: 'owner' | 'admin' | 'member' | 'viewer' | null;
  kind: 'internal' | 'external';
}

function Tab({ href, label }: { href: string; label: string }) {
  const [location] = useLocation();
  const current =
    href === '/' ? location === '/' || location.startsWith('/issues') : location.startsWith(href);
  return (
    <Link href={href} aria-current={current ? 'page' : undefined}>
      {label}
    </Link>
  );
}

export default function ProjectPage({ projectId }: { projectId: string }) {
  const vaultOpen = useVaultState() === 'open';
  const info = useResource(`project:${projectId}:${vaultOpen}`, (signal) =>
    cachedGet<ProjectInfo>(`/v1/projects/${seg(projectId)}`, { signal }),
  );
  if (!info.data) return info.error ? <ErrorNote error={info.error} /> : <Spinner />;
  const data = info.data;
  const { project, role, kind } = data;
  const canManage = role === 'owner' || role === 'admin';
  return (
    <>
      <PageHeader
        title={`${project.key} · ${project.name}`}
        subtitle={
          <>
            {project.description ? `${project.description} · ` : ''}
            <Badge tone={kind === 'external' ? 'warning' : 'info'}>
              {kind === 'external' ? 'You are an external member' : 'Internal'}
            </Badge>{' '}
            {role ? <Badge>{role}</Badge> : null}
          </>
        }
      />
      <nav className="tabs" aria-label="Project">
        <Tab href="/" label="Board" />
        <Tab href="/chat" label="Chat" />
        <Tab href="/members" label="Members" />
        {canManage ? <Tab href="/settings" label="Settings & policy" /> : null}
      </nav>
      <Suspense fallback={<Spinner />}>
        <Switch>
          <Route path="/">
            <BoardPage project={data} />
          </Route>
          <Route path="/issues/:issueId">
            {(params) => <IssuePage project={data} issueId={params.issueId} />}
          </Route>
          <Route path="/chat/:conversationId?">
            {(params) => <ChatPage project={data} conversationId={params.conversationId} />}
          </Route>
          <Route path="/members">
            <ProjectMembersPage project={data} />
          </Route>
          <Route path="/settings">
            <ProjectSettingsPage project={data} onChanged={info.reload} />
          </Route>
        </Switch>
      </Suspense>
    </>
  );
}
