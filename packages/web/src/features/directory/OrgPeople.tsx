/**
 * The accounts of the viewer's own org, for its owners and admins
 * (`GET /v1/admin/users`): create an account (its enrolment link shown
 * once), change an org role (owners), disable or enable, new enrolment link.
 */
import { type FormEvent, useState } from 'react';
import { api, seg } from '../../api/client.ts';
import {
  Button,
  Card,
  Checkbox,
  Dialog,
  EmptyState,
  formatDate,
  SelectField,
  Spinner,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import {
  CopyOnce,
  PersonBadges,
  PersonName,
  ProblemNote,
  useViewer,
  type ViewerInfo,
} from './parts.tsx';
import type { EnrolmentLink, Org, OrgRole, OrgUser } from './types.ts';

export default function OrgPeople({ org, viewerRole }: { org: Org; viewerRole: OrgRole | null }) {
  const viewer = useViewer();
  const users = useResource(`org-users:${org.id}`, (signal) =>
    api.get<{ users: OrgUser[] }>('/v1/admin/users', { signal }),
  );
  const [filter, setFilter] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; link: EnrolmentLink } | null>(null);
  const [managing, setManaging] = useState<OrgUser | null>(null);
  const isOwner = viewerRole === 'owner';

  const needle = filter.trim().toLowerCase();
  const list = (users.data?.users ?? [])
    .filter(
      (u) =>
        !needle ||
        [u.displayName, u.username ?? '', u.email ?? ''].some((h) =>
          h.toLowerCase().includes(needle),
        ),
    )
    .sort((a, b) => a.displayName.localeCompare(b.displayName));

  return (
    <>
      {created ? (
        <CopyOnce
          title={`Account created — send ${created.name} this enrolment link`}
          url={created.link.enrolUrl}
          expiresAt={created.link.expiresAt}
          onDone={() => setCreated(null)}
        >
          <p>
            With it, {created.name} registers a passkey on their own device. There is no password:
            until they use the link, nobody can sign in to the account.
          </p>
        </CopyOnce>
      ) : null}
      {creating ? (
        <Card>
          <h2>New account in {org.name}</h2>
          <CreateAccountForm
            viewer={viewer}
            isOwner={isOwner}
            onCancel={() => setCreating(false)}
            onCreated={(name, link) => {
              setCreating(false);
              setCreated({ name, link });
              users.reload();
            }}
          />
        </Card>
      ) : null}
      <Card>
        <div className="section-head">
          <h2>People{users.data ? ` (${users.data.users.length})` : ''}</h2>
          {!creating ? (
            <Button
              variant="primary"
              onClick={() => {
                setCreated(null);
                setCreating(true);
              }}
            >
              New account
            </Button>
          ) : null}
        </div>
        <TextField
          label="Filter people"
          type="search"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          autoComplete="off"
        />
        <ProblemNote error={users.error} />
        {users.loading && !users.data ? <Spinner label="Loading people…" /> : null}
        {users.data && list.length === 0 ? (
          <EmptyState title={needle ? `Nobody matches “${filter.trim()}”` : 'No accounts yet'} />
        ) : null}
        {list.length > 0 ? (
          <div className="table-wrap">
            <table className="table stack-table">
              <caption className="visually-hidden">Accounts of {org.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Person</th>
                  <th scope="col">Standing</th>
                  <th scope="col">Since</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((u) => (
                  <tr key={u.id}>
                    <td className="primary" data-label="Person">
                      <PersonName name={u.displayName} username={u.username} email={u.email} />
                    </td>
                    <td data-label="Standing">
                      <PersonBadges
                        you={u.id === viewer.userId}
                        orgRole={u.orgRole}
                        disabled={u.status === 'disabled'}
                        installationAdmin={u.isAdmin}
                        extra={
                          u.source !== 'local' ? (
                            <span className="badge" title="Managed by a directory connector">
                              {u.source === 'ldap' ? 'LDAP' : 'OIDC'}
                            </span>
                          ) : null
                        }
                      />
                    </td>
                    <td data-label="Since">{formatDate(u.createdAt)}</td>
                    <td className="actions">
                      <Button
                        className="btn-small"
                        onClick={() => setManaging(u)}
                        aria-label={`Manage ${u.displayName}`}
                      >
                        Manage
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Card>
      <Dialog
        open={managing !== null}
        title={managing ? `Manage ${managing.displayName}` : 'Manage'}
        onClose={() => setManaging(null)}
      >
        {managing ? (
          <ManageAccount
            key={managing.id}
            user={managing}
            self={managing.id === viewer.userId}
            isOwner={isOwner}
            onChanged={(next) => {
              setManaging(next);
              users.reload();
            }}
          />
        ) : null}
      </Dialog>
    </>
  );
}

function CreateAccountForm({
  viewer,
  isOwner,
  onCreated,
  onCancel,
}: {
  viewer: ViewerInfo;
  isOwner: boolean;
  onCreated: (name: string, link: EnrolmentLink) => void;
  onCancel: () => void;
}) {
  const [displayName, setDisplayName] = useState('');
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [orgRole, setOrgRole] = useState<'member' | 'admin'>('member');
  const [installationAdmin, setInstallationAdmin] = useState(false);
  const [tried, setTried] = useState(false);
  const problems = {
    displayName: displayName.trim() ? null : 'Give the person’s name.',
    username: /^[A-Za-z0-9._-]{2,64}$/.test(username)
      ? null
      : 'Use 2–64 letters, digits, dots, dashes and underscores.',
  };
  const create = useAction(async () =>
    api.post<{ user: OrgUser } & EnrolmentLink>('/v1/admin/users', {
      displayName: displayName.trim(),
      username,
      ...(email.trim() ? { email: email.trim() } : {}),
      orgRole,
      ...(installationAdmin ? { isAdmin: true } : {}),
    }),
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (problems.displayName || problems.username) return;
    const made = await create.run();
    if (made) {
      onCreated(made.user.displayName, { enrolUrl: made.enrolUrl, expiresAt: made.expiresAt });
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <div className="form-grid">
        <TextField
          label="Name"
          value={displayName}
          onChange={(e) => setDisplayName(e.target.value)}
          maxLength={100}
          required
          autoComplete="off"
          error={tried ? problems.displayName : null}
        />
        <TextField
          label="Username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          maxLength={64}
          required
          autoComplete="off"
          spellCheck={false}
          error={tried ? problems.username : null}
        />
        <TextField
          label="E-mail address (optional)"
          hint="Needed to accept invitations bound to an address."
          type="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          maxLength={254}
          autoComplete="off"
        />
        <SelectField
          label="Org role"
          value={orgRole}
          onChange={(e) => setOrgRole(e.target.value === 'admin' ? 'admin' : 'member')}
          options={[
            { value: 'member', label: 'Member' },
            ...(isOwner ? [{ value: 'admin', label: 'Admin (manages the org)' }] : []),
          ]}
        />
      </div>
      {viewer.isAdmin ? (
        <Checkbox
          label="Installation admin (creates organisations, reads the whole audit ledger)"
          checked={installationAdmin}
          onChange={(e) => setInstallationAdmin(e.target.checked)}
        />
      ) : null}
      <ProblemNote error={create.error} />
      <div className="btn-row">
        <Button type="submit" variant="primary" busy={create.busy}>
          Create account
        </Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

function ManageAccount({
  user,
  self,
  isOwner,
  onChanged,
}: {
  user: OrgUser;
  self: boolean;
  isOwner: boolean;
  onChanged: (user: OrgUser) => void;
}) {
  const [role, setRole] = useState<OrgRole>(user.orgRole ?? 'member');
  const [link, setLink] = useState<EnrolmentLink | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const changeRole = useAction(async () => {
    const answer = await api.put<{ user: { orgRole: OrgRole } }>(
      `/v1/admin/users/${seg(user.id)}/org-role`,
      { role },
    );
    onChanged({ ...user, orgRole: answer.user.orgRole });
    setSaved(`Org role changed to ${answer.user.orgRole}.`);
  });
  const setStatus = useAction(async (status: 'active' | 'disabled') => {
    const answer = await api.put<{ user: OrgUser }>(`/v1/admin/users/${seg(user.id)}/status`, {
      status,
    });
    onChanged(answer.user);
    setSaved(
      status === 'disabled'
        ? 'The account is disabled; its sessions have ended.'
        : 'The account is active again.',
    );
  });
  const newLink = useAction(async () => {
    setLink(await api.post<EnrolmentLink>(`/v1/admin/users/${seg(user.id)}/enrolment-link`));
  });

  return (
    <div>
      <p>
        <PersonName name={user.displayName} username={user.username} email={user.email} />
      </p>
      <p role="status" className="muted">
        {saved ?? ''}
      </p>

      {user.orgRole === 'guest' ? (
        <p className="muted">Guests have no org role: they see only the projects they joined.</p>
      ) : isOwner ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void changeRole.run();
          }}
        >
          <SelectField
            label="Org role"
            value={role}
            onChange={(e) => setRole(e.target.value as OrgRole)}
            options={[
              { value: 'owner', label: 'Owner' },
              { value: 'admin', label: 'Admin' },
              { value: 'member', label: 'Member' },
            ]}
          />
          <ProblemNote error={changeRole.error} />
          <Button type="submit" busy={changeRole.busy} disabled={role === user.orgRole}>
            Change org role
          </Button>
        </form>
      ) : (
        <p className="muted">Only the org’s owners change org roles.</p>
      )}

      <hr className="divider" />
      <h3>Sign-in</h3>
      {self ? (
        <p className="muted">You cannot disable your own account.</p>
      ) : user.status === 'active' ? (
        <>
          <p>Disabling ends every session of this account at once.</p>
          <ProblemNote error={setStatus.error} />
          <Button
            variant="danger"
            busy={setStatus.busy}
            onClick={() => void setStatus.run('disabled')}
          >
            Disable account
          </Button>
        </>
      ) : (
        <>
          <ProblemNote error={setStatus.error} />
          <Button busy={setStatus.busy} onClick={() => void setStatus.run('active')}>
            Enable account
          </Button>
        </>
      )}

      {user.status === 'active' ? (
        <>
          <h3 className="spaced">Enrolment link</h3>
          {link ? (
            <CopyOnce
              title={`New enrolment link for ${user.displayName}`}
              url={link.enrolUrl}
              expiresAt={link.expiresAt}
              level={3}
            >
              <p>With it they register a new passkey, for example after losing every device.</p>
            </CopyOnce>
          ) : (
            <>
              <p>
                For a lost link, or after someone lost every passkey: a new one-time link to
                register a passkey.
              </p>
              <ProblemNote error={newLink.error} />
              <Button busy={newLink.busy} onClick={() => void newLink.run()}>
                Make a new enrolment link
              </Button>
            </>
          )}
        </>
      ) : null}
    </div>
  );
}
