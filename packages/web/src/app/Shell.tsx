/**
 * The signed-in frame: navigation (a sidebar, a menu on phones), the status
 * line every screen shares (offline, queued changes, sealed, session ended,
 * policy), the step-up dialog, and the routes.
 */
import { lazy, type ReactNode, Suspense, useEffect, useState } from 'react';
import { Link, Redirect, Route, Switch, useLocation } from 'wouter';
import { seg, setStepUpHandler } from '../api/client.ts';
import { StepUpDialog, type StepUpRequest } from '../features/setup/StepUpDialog.tsx';
import { cachedGet } from '../offline/cached-get.ts';
import { OutboxStatus } from '../offline/OutboxStatus.tsx';
import { useOutbox } from '../offline/outbox.ts';
import { VaultUnlock } from '../offline/VaultUnlock.tsx';
import { useVaultState } from '../offline/vault.ts';
import { Badge, Banner, Button, Spinner, useResource } from '../ui/components.tsx';
import { useSession } from './session.tsx';
import { updateAppStatus, useAppStatus } from './status.ts';

const HomePage = lazy(() => import('../features/directory/HomePage.tsx'));
const OrgListPage = lazy(() => import('../features/directory/OrgListPage.tsx'));
const OrgPage = lazy(() => import('../features/directory/OrgPage.tsx'));
const SearchPage = lazy(() => import('../features/directory/SearchPage.tsx'));
const ProjectPage = lazy(() => import('../features/project/ProjectPage.tsx'));
const AccountPage = lazy(() => import('../features/account/AccountPage.tsx'));
const OrgAdminPage = lazy(() => import('../features/admin/OrgAdminPage.tsx'));
const InstallationAdminPage = lazy(() => import('../features/admin/InstallationAdminPage.tsx'));

interface OrgSummary {
  id: string;
  slug: string;
  name: string;
}
interface ProjectSummary {
  id: string;
  orgId: string;
  key: string;
  name: string;
}

/** The projects the person can open, grouped by org, for the navigation. */
async function loadNavigation(signal: AbortSignal) {
  const { orgs } = await cachedGet<{ orgs: OrgSummary[] }>('/v1/orgs', { signal });
  const withProjects = await Promise.all(
    orgs.map(async (org) => {
      try {
        const { projects } = await cachedGet<{ projects: ProjectSummary[] }>(
          `/v1/orgs/${seg(org.id)}/projects`,
          { signal },
        );
        return { org, projects };
      } catch {
        return { org, projects: [] as ProjectSummary[] };
      }
    }),
  );
  return withProjects;
}

function NavLink({ href, children }: { href: string; children: ReactNode }) {
  const [location] = useLocation();
  const current = location === href || (href !== '/' && location.startsWith(`${href}/`));
  return (
    <Link href={href} aria-current={current ? 'page' : undefined}>
      {children}
    </Link>
  );
}

export function Shell({ onRecheck }: { onRecheck: () => void }) {
  const { me, signOut } = useSession();
  const status = useAppStatus();
  const [location] = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [stepUp, setStepUp] = useState<StepUpRequest | null>(null);
  // Loaded again when the offline copy opens, so that a copy is kept for offline starts.
  const vaultOpen = useVaultState() === 'open';
  const navigation = useResource(`nav:${me.user.id}:${vaultOpen}`, loadNavigation);
  const outbox = useOutbox();
  const chatQueued = outbox.some((item) => item.kind === 'chat.message');

  // Messages written offline are sent by this browser's messaging device,
  // which lives in the chat chunk: start it, whatever screen is open.
  useEffect(() => {
    if (chatQueued)
      void import('../features/chat/use-chat-device.ts').then((chat) => chat.startChatDevice());
  }, [chatQueued]);

  useEffect(() => {
    setStepUpHandler(() => new Promise<boolean>((resolve) => setStepUp({ resolve })));
    return () => setStepUpHandler(null);
  }, []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: close the phone menu after each navigation
  useEffect(() => setMenuOpen(false), [location]);
  useEffect(() => {
    const online = () => updateAppStatus({ connectivity: 'online' });
    const offline = () => updateAppStatus({ connectivity: 'offline' });
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);
    return () => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
    };
  }, []);

  return (
    <div className={`shell${menuOpen ? ' nav-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="topbar">
        <span className="nav-brand">
          <img src="/icons/icon.svg" alt="" /> Bulwark
        </span>
        <Button
          variant="ghost"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          {menuOpen ? 'Close menu' : 'Menu'}
        </Button>
      </div>
      <nav className="nav" id="main-nav" aria-label="Main">
        <span className="nav-brand">
          <img src="/icons/icon.svg" alt="" /> Bulwark
        </span>
        <ul>
          <li>
            <NavLink href="/">Home</NavLink>
          </li>
          <li>
            <NavLink href="/search">Search people</NavLink>
          </li>
          <li>
            <NavLink href="/orgs">Organisations</NavLink>
          </li>
        </ul>
        {navigation.data?.map(({ org, projects }) => (
          <div key={org.id}>
            <p className="nav-section-title">{org.name}</p>
            <ul>
              {projects.map((project) => (
                <li key={project.id}>
                  <NavLink href={`/projects/${project.id}`}>
                    {project.key} · {project.name}
                  </NavLink>
                </li>
              ))}
            </ul>
          </div>
        ))}
        {navigation.loading && !navigation.data ? <Spinner label="Loading projects…" /> : null}
        <div className="nav-footer">
          <ul>
            <li>
              <NavLink href="/account">Account · {me.user.displayName}</NavLink>
            </li>
            {me.user.isAdmin ? (
              <li>
                <NavLink href="/admin">Installation admin</NavLink>
              </li>
            ) : null}
          </ul>
          <Button variant="ghost" onClick={() => void signOut()}>
            Sign out
          </Button>
        </div>
      </nav>
      <main className="main" id="main">
        <div className="status-bar">
          {status.connectivity === 'offline' ? (
            <Badge tone="warning">Offline</Badge>
          ) : (
            <Badge tone="success">Online</Badge>
          )}
          <OutboxStatus />
        </div>
        <SessionBanners onRecheck={onRecheck} />
        <VaultUnlock />
        <Suspense fallback={<Spinner />}>
          <Switch>
            <Route path="/">
              <HomePage />
            </Route>
            <Route path="/search">
              <SearchPage />
            </Route>
            <Route path="/orgs">
              <OrgListPage onChanged={navigation.reload} />
            </Route>
            <Route path="/orgs/:orgId/admin/:tab?">
              {(params) => <OrgAdminPage orgId={params.orgId} tab={params.tab} />}
            </Route>
            <Route path="/orgs/:orgId">
              {(params) => <OrgPage orgId={params.orgId} onChanged={navigation.reload} />}
            </Route>
            <Route path="/projects/:projectId" nest>
              {(params) => <ProjectPage projectId={params.projectId} />}
            </Route>
            <Route path="/account/:tab?">{(params) => <AccountPage tab={params.tab} />}</Route>
            <Route path="/admin/:tab?">
              {(params) => <InstallationAdminPage tab={params.tab} />}
            </Route>
            <Route path="/sign-in">
              <Redirect to="/" />
            </Route>
            <Route>
              <Banner tone="warning" title="No such page">
                <Link href="/">Go to the start page</Link>
              </Banner>
            </Route>
          </Switch>
        </Suspense>
      </main>
      <StepUpDialog request={stepUp} onDone={() => setStepUp(null)} />
    </div>
  );
}

/** The states that concern every screen, in plain words with what to do. */
function SessionBanners({ onRecheck }: { onRecheck: () => void }) {
  const status = useAppStatus();
  return (
    <>
      {status.connectivity === 'offline' ? (
        <Banner tone="warning" title="You are offline">
          The server cannot be reached. You can keep working: your changes are kept encrypted on
          this device and sent as soon as the connection is back.
        </Banner>
      ) : null}
      {status.sealed ? (
        <Banner
          tone="danger"
          title="The server has been sealed"
          actions={<Button onClick={onRecheck}>Check again</Button>}
        >
          An operator locked the server's keys, so it cannot answer until they unseal it. Nothing
          you queued is lost: it stays on this device and is sent once the server is unsealed.
        </Banner>
      ) : null}
      {status.sessionEnded ? (
        <Banner
          tone="danger"
          title="You have been signed out"
          actions={
            <Button variant="primary" onClick={onRecheck}>
              Sign in again
            </Button>
          }
        >
          Your session ended: it was revoked, it expired, or your account was changed. Sign in again
          to carry on; changes waiting on this device are kept and sent after you sign in.
        </Banner>
      ) : null}
      {status.policyMessage ? (
        <Banner
          tone="warning"
          title="Your organisation's security policy changed"
          actions={
            <Button onClick={() => updateAppStatus({ policyMessage: null })}>Dismiss</Button>
          }
        >
          {status.policyMessage} Sign in again with a method the policy allows (your passkey
          satisfies every policy), or ask an administrator.
        </Banner>
      ) : null}
    </>
  );
}
