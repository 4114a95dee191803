/**
 * The start page: a greeting, the person's projects in every org they can
 * see (`GET /v1/orgs`, then `GET /v1/orgs/:orgId/projects` for each), quick
 * actions, and a plain explanation when there is nothing to show yet.
 */
import { Link } from 'wouter';
import { describeError, seg } from '../../api/client.ts';
import { cachedGet } from '../../offline/cached-get.ts';
import {
  Banner,
  Card,
  EmptyState,
  PageHeader,
  Spinner,
  useResource,
} from '../../ui/components.tsx';
import { orgRoleLabel } from './logic.ts';
import { ProblemNote, useViewer } from './parts.tsx';
import type { Org, Project } from './types.ts';

interface OrgProjects {
  org: Org;
  projects: Project[];
  error: unknown;
}

async function loadProjects(signal: AbortSignal): Promise<OrgProjects[]> {
  const { orgs } = await cachedGet<{ orgs: Org[] }>('/v1/orgs', { signal });
  return Promise.all(
    orgs.map(async (org) => {
      try {
        const { projects } = await cachedGet<{ projects: Project[] }>(
          `/v1/orgs/${seg(org.id)}/projects`,
          { signal },
        );
        return { org, projects, error: null };
      } catch (error) {
        if (signal.aborted) throw error;
        return { org, projects: [], error };
      }
    }),
  );
}

function greeting(now = new Date()): string {
  const hour = now.getHours();
  if (hour < 5) return 'Hello';
  if (hour < 12) return 'Good morning';
  if (hour < 18) return 'Good afternoon';
  return 'Good evening';
}

export default function HomePage() {
  const viewer = useViewer();
  const data = useResource(`home:${viewer.userId}`, loadProjects);
  const canCreate = viewer.orgRole === 'owner' || viewer.orgRole === 'admin';
  const hasOrgRole = viewer.orgRole !== null && viewer.orgRole !== 'guest';
  const groups = data.data ?? [];
  const withProjects = groups.filter((g) => g.projects.length > 0);
  const total = withProjects.reduce((n, g) => n + g.projects.length, 0);
  const ownOrg = groups.find((g) => g.org.id === viewer.orgId)?.org ?? null;

  return (
    <>
      <PageHeader
        title={`${greeting()}, ${viewer.displayName}`}
        subtitle={
          ownOrg && viewer.orgRole
            ? `${orgRoleLabel[viewer.orgRole]} of ${ownOrg.name}`
            : viewer.orgRole === 'guest'
              ? 'You are a guest: you see the projects you were invited into.'
              : undefined
        }
      />

      <Card>
        <h2>Quick actions</h2>
        <div className="quick-actions">
          {canCreate && viewer.orgId ? (
            <Link
              className="btn btn-primary"
              href={`/orgs/${seg(viewer.orgId)}?tab=projects&create=1`}
            >
              Create a project
            </Link>
          ) : null}
          <Link className="btn btn-secondary" href="/search">
            Search people
          </Link>
          {hasOrgRole && viewer.orgId ? (
            <Link className="btn btn-secondary" href={`/orgs/${seg(viewer.orgId)}`}>
              Your organisation
            </Link>
          ) : null}
          {viewer.isAdmin ? (
            <Link className="btn btn-secondary" href="/orgs">
              All organisations
            </Link>
          ) : null}
          <Link className="btn btn-secondary" href="/account">
            Your account
          </Link>
        </div>
      </Card>

      <section aria-labelledby="home-projects">
        <h2 id="home-projects">Your projects{data.data ? ` (${total})` : ''}</h2>
        {data.loading && !data.data ? <Spinner label="Loading your projects…" /> : null}
        <ProblemNote error={data.error} />
        {groups
          .filter((g) => g.error)
          .map((g) => (
            <Banner
              key={g.org.id}
              tone="warning"
              title={`The projects of ${g.org.name} could not be loaded`}
            >
              {describeError(g.error)}
            </Banner>
          ))}
        {withProjects.map(({ org, projects }) => (
          <div key={org.id}>
            {groups.length > 1 ? (
              <h3>
                <Link href={`/orgs/${seg(org.id)}`}>{org.name}</Link>
              </h3>
            ) : null}
            <ul className="project-grid">
              {projects.map((project) => (
                <li key={project.id}>
                  <Link className="project-card" href={`/projects/${seg(project.id)}`}>
                    <span className="project-card-key">{project.key}</span>
                    <span className="project-card-name">{project.name}</span>
                    {project.description ? (
                      <span className="project-card-desc">{project.description}</span>
                    ) : null}
                  </Link>
                </li>
              ))}
            </ul>
          </div>
        ))}
        {data.data && total === 0 ? (
          <NoProjects
            hasOrgRole={hasOrgRole}
            canCreate={canCreate}
            orgId={viewer.orgId}
            orgName={ownOrg?.name ?? null}
          />
        ) : null}
      </section>
    </>
  );
}

/** Nothing to show: say why, and what the person can do. */
function NoProjects({
  hasOrgRole,
  canCreate,
  orgId,
  orgName,
}: {
  hasOrgRole: boolean;
  canCreate: boolean;
  orgId: string | null;
  orgName: string | null;
}) {
  if (!hasOrgRole) {
    return (
      <Card>
        <EmptyState title="You are not in any project yet">
          <p>
            Your account is not part of an organisation’s staff: you see only the projects someone
            invited you into, and right now there are none. That is expected if an invitation was
            withdrawn or has not been sent yet.
          </p>
          <p>
            To join a project, open the invitation link you were sent while signed in, or ask the
            person who runs the project to invite you.
          </p>
        </EmptyState>
      </Card>
    );
  }
  if (canCreate && orgId) {
    return (
      <Card>
        <EmptyState title="No projects yet">
          <p>
            {orgName ?? 'Your organisation'} has no projects. Create the first one: you become its
            owner and can add people, groups and partner organisations.
          </p>
          <Link className="btn btn-primary" href={`/orgs/${seg(orgId)}?tab=projects&create=1`}>
            Create a project
          </Link>
        </EmptyState>
      </Card>
    );
  }
  return (
    <Card>
      <EmptyState title="You are not in any project yet">
        <p>
          You see the projects you belong to. Ask an admin of {orgName ?? 'your organisation'} or of
          a project to add you, or open an invitation link you were sent.
        </p>
      </EmptyState>
    </Card>
  );
}
