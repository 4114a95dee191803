/**
 * An org's administration (its owners and admins): the security policy,
 * the sign-in connectors the server is configured with, the org's audit
 * entries with in-browser verification, and its people's sessions.
 */
import { useState } from 'react';
import { Link } from 'wouter';
import { api, seg } from '../../api/client.ts';
import { useSession } from '../../app/session.tsx';
import {
  Badge,
  Banner,
  Button,
  Card,
  Dialog,
  EmptyState,
  ErrorNote,
  PageHeader,
  Spinner,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import type { LoginMethods, SessionInfo } from '../account/AccountPage.tsx';
import { SessionList } from '../account/AccountPage.tsx';
import { AuditBrowser } from './AuditTable.tsx';
import { OrgPolicyEditor, type PolicyObject } from './PolicyEditor.tsx';
import './admin.css';

interface OrgInfo {
  org: { id: string; slug: string; name: string; createdAt: string; updatedAt: string };
  role: 'owner' | 'admin' | 'member' | 'guest' | null;
}

const tabs = [
  { id: 'policy', label: 'Security policy' },
  { id: 'connectors', label: 'Sign-in connectors' },
  { id: 'audit', label: 'Audit' },
  { id: 'sessions', label: 'People’s sessions' },
];

export default function OrgAdminPage({ orgId, tab }: { orgId: string; tab?: string | undefined }) {
  const info = useResource(`org:${orgId}`, (signal) =>
    api.get<OrgInfo>(`/v1/orgs/${seg(orgId)}`, { signal }),
  );
  const current = tab ?? 'policy';
  if (!info.data) return info.error ? <ErrorNote error={info.error} /> : <Spinner />;
  const { org, role } = info.data;
  const isAdmin = role === 'owner' || role === 'admin';
  return (
    <>
      <PageHeader
        title={`${org.name} · administration`}
        subtitle={
          <>
            <span className="mono">{org.slug}</span> {role ? <Badge>{role}</Badge> : null}
          </>
        }
        actions={<Link href={`/orgs/${org.id}`}>Back to the org</Link>}
      />
      {!isAdmin ? (
        <Banner tone="warning" title="Only the org's owners and admins administer it">
          You can read its policy; changes, the audit trail and sessions are for its administrators.
        </Banner>
      ) : null}
      <nav className="tabs" aria-label="Org administration">
        {tabs.map((t) => (
          <Link
            key={t.id}
            href={`/orgs/${org.id}/admin/${t.id}`}
            aria-current={t.id === current ? 'page' : undefined}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      {current === 'policy' ? <PolicyTab orgId={org.id} readOnly={!isAdmin} /> : null}
      {current === 'connectors' ? <ConnectorsTab orgSlug={org.slug} /> : null}
      {current === 'audit' ? (
        <Card>
          <AuditBrowser
            path={`/v1/orgs/${seg(org.id)}/audit/entries`}
            filters={['actor', 'action', 'since', 'until', 'issue', 'project']}
            title={`Audit of ${org.name}`}
            intro="Every recorded change about this org and its projects. Verify checks the entries on this page against the ledger's signed head, in this browser."
          />
        </Card>
      ) : null}
      {current === 'sessions' ? <SessionsTab orgId={org.id} /> : null}
      {!tabs.some((t) => t.id === current) ? (
        <Banner tone="warning" title="No such section">
          <Link href={`/orgs/${org.id}/admin/policy`}>Go to the policy</Link>
        </Banner>
      ) : null}
    </>
  );
}

function PolicyTab({ orgId, readOnly }: { orgId: string; readOnly: boolean }) {
  const policy = useResource(`org-policy:${orgId}`, (signal) =>
    api.get<{ policy: PolicyObject }>(`/v1/orgs/${seg(orgId)}/policy`, { signal }),
  );
  const [saved, setSaved] = useState<PolicyObject | null>(null);
  const save = useAction(async (next: PolicyObject) => {
    const answer = await api.put<{ policy: PolicyObject }>(`/v1/orgs/${seg(orgId)}/policy`, next);
    setSaved(answer.policy);
  });
  const current = saved ?? policy.data?.policy;
  return (
    <Card>
      <h2>Security policy</h2>
      <p className="muted">
        The org's default rules: internal ones for its own people, external ones for partner people
        and guests. Projects may tighten them, never loosen them.
      </p>
      {saved ? <Banner tone="success">Policy saved. It applies at once.</Banner> : null}
      {!current ? (
        policy.error ? (
          <ErrorNote error={policy.error} />
        ) : (
          <Spinner label="Loading the policy…" />
        )
      ) : (
        <OrgPolicyEditor
          key={JSON.stringify(current)}
          policy={current}
          onSave={(next) => void save.run(next)}
          saving={save.busy}
          error={save.error}
          readOnly={readOnly}
        />
      )}
    </Card>
  );
}

function ConnectorsTab({ orgSlug }: { orgSlug: string }) {
  const { me } = useSession();
  const methods = useResource('auth-methods', (signal) =>
    api.get<LoginMethods>('/v1/auth/methods', { signal }),
  );
  const [result, setResult] = useState<string | null>(null);
  const sync = useAction(async (id: string) => {
    setResult(null);
    const counts = await api.post<Record<string, unknown>>(`/v1/admin/ldap/${seg(id)}/sync`, {});
    const parts = Object.entries(counts)
      .filter(([key, value]) => key !== 'connector' && typeof value === 'number')
      .map(([key, value]) => `${key}: ${value}`);
    setResult(`Sync of ${id} finished${parts.length ? ` — ${parts.join(', ')}` : ''}.`);
  });
  const data = methods.data;
  const forOrg = (org: string | null | undefined) =>
    org ? (org === orgSlug ? 'this org' : `the org “${org}”`) : 'the installation’s default org';
  return (
    <Card>
      <h2>Sign-in connectors</h2>
      <Banner tone="info">
        Connectors are set in the server's configuration file (<code>bulwark.config.yaml</code>,
        under <code>auth</code>) by whoever runs the server; they cannot be changed here. Whether
        your people may use a method is decided by the org's security policy.
      </Banner>
      <ErrorNote error={methods.error} />
      {methods.loading && !data ? <Spinner /> : null}
      {data ? (
        <>
          <h3>Methods</h3>
          <ul className="list">
            <li>
              Passkeys <Badge tone="success">On</Badge>
            </li>
            <li>
              Recovery codes{' '}
              <Badge tone={data.recoveryCodes ? 'success' : 'neutral'}>
                {data.recoveryCodes ? 'On' : 'Off'}
              </Badge>
            </li>
            <li>
              Passwords (with a second factor){' '}
              <Badge tone={data.password ? 'warning' : 'neutral'}>
                {data.password ? 'On' : 'Off'}
              </Badge>
            </li>
            <li>
              SMS codes — insecure{' '}
              <Badge tone={data.sms ? 'danger' : 'neutral'}>{data.sms ? 'On' : 'Off'}</Badge>
            </li>
          </ul>
          <h3>LDAP / Active Directory</h3>
          {data.ldap.length === 0 ? (
            <p className="muted">None configured.</p>
          ) : (
            <ul className="list">
              {data.ldap.map((c) => (
                <li key={c.id}>
                  <div className="item-main">
                    <div className="item-title">
                      {c.name ?? c.id} {c.kind ? <Badge>{c.kind}</Badge> : null}
                    </div>
                    <div className="item-meta">
                      Connector <span className="mono">{c.id}</span>; files people in{' '}
                      {forOrg(c.org)}.
                    </div>
                  </div>
                  {me.user.isAdmin ? (
                    <Button
                      className="btn-small"
                      busy={sync.busy}
                      onClick={() => void sync.run(c.id)}
                    >
                      Sync now<span className="visually-hidden"> {c.id}</span>
                    </Button>
                  ) : null}
                </li>
              ))}
            </ul>
          )}
          {data.ldap.length > 0 && !me.user.isAdmin ? (
            <p className="muted">
              Syncs run on the configured schedule; only installation admins run one by hand.
            </p>
          ) : null}
          {data.ldap.length > 0 && me.user.isAdmin ? (
            <p className="muted">
              A sync creates and updates people and disables those the directory no longer lists
              (their sessions end at once).
            </p>
          ) : null}
          {result ? <Banner tone="success">{result}</Banner> : null}
          <ErrorNote error={sync.error} />
          <h3>OpenID Connect</h3>
          {data.oidc.length === 0 ? (
            <p className="muted">None configured.</p>
          ) : (
            <ul className="list">
              {data.oidc.map((c) => (
                <li key={c.id}>
                  <div className="item-main">
                    <div className="item-title">{c.name ?? c.id}</div>
                    <div className="item-meta">
                      Connector <span className="mono">{c.id}</span>; files people in{' '}
                      {forOrg(c.org)}.
                    </div>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </>
      ) : null}
    </Card>
  );
}

interface OrgUser {
  id: string;
  displayName: string;
  username: string | null;
  email: string | null;
  status: 'active' | 'disabled';
  orgId: string | null;
  orgRole: string | null;
}

function SessionsTab({ orgId }: { orgId: string }) {
  const users = useResource(`org-users:${orgId}`, (signal) =>
    api.get<{ users: OrgUser[] }>('/v1/admin/users', { signal }),
  );
  const [open, setOpen] = useState<OrgUser | null>(null);
  const people = (users.data?.users ?? []).filter((u) => u.orgId === null || u.orgId === orgId);
  const otherOrg = users.data && users.data.users.length > 0 && people.length === 0;
  return (
    <Card>
      <h2>People's sessions</h2>
      <p className="muted">
        Look at where someone is signed in, and end all their sessions (for a lost device or a
        suspected compromise). Looking is recorded in the audit ledger.
      </p>
      <ErrorNote error={users.error} />
      {users.loading && !users.data ? <Spinner label="Loading people…" /> : null}
      {otherOrg ? (
        <Banner tone="info">
          Accounts are administered from their home org; this is not yours.
        </Banner>
      ) : null}
      {users.data && people.length === 0 && !otherOrg ? <EmptyState title="No people" /> : null}
      <ul className="list" aria-label="People">
        {people.map((u) => (
          <li key={u.id}>
            <div className="item-main">
              <div className="item-title">
                {u.displayName}{' '}
                {u.status === 'disabled' ? <Badge tone="danger">Disabled</Badge> : null}{' '}
                {u.orgRole ? <Badge>{u.orgRole}</Badge> : null}
              </div>
              <div className="item-meta">{u.username ?? u.email ?? u.id}</div>
            </div>
            <Button className="btn-small" onClick={() => setOpen(u)}>
              Sessions<span className="visually-hidden"> of {u.displayName}</span>
            </Button>
          </li>
        ))}
      </ul>
      <UserSessions user={open} onClose={() => setOpen(null)} />
    </Card>
  );
}

function UserSessions({ user, onClose }: { user: OrgUser | null; onClose: () => void }) {
  const sessions = useResource(user ? `user-sessions:${user.id}` : null, (signal) =>
    api.get<{ sessions: SessionInfo[] }>(`/v1/admin/users/${seg(user?.id ?? '')}/sessions`, {
      signal,
    }),
  );
  const [done, setDone] = useState<string | null>(null);
  const revoke = useAction(async () => {
    if (!user) return;
    const { revoked } = await api.post<{ revoked: number }>(
      `/v1/admin/users/${seg(user.id)}/sessions/revoke`,
      {},
    );
    setDone(`${revoked} session(s) ended.`);
    sessions.reload();
  });
  return (
    <Dialog
      open={user !== null}
      title={`Sessions of ${user?.displayName ?? ''}`}
      onClose={() => {
        setDone(null);
        onClose();
      }}
    >
      <ErrorNote error={sessions.error} />
      {sessions.loading ? <Spinner /> : null}
      {sessions.data && !sessions.loading ? (
        <SessionList sessions={sessions.data.sessions} />
      ) : null}
      {done ? <Banner tone="success">{done}</Banner> : null}
      <ErrorNote error={revoke.error} />
      <div className="btn-row">
        <Button variant="danger" busy={revoke.busy} onClick={() => void revoke.run()}>
          End all their sessions
        </Button>
      </div>
    </Dialog>
  );
}
