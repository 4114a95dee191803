/**
 * An org's groups (`GET /v1/orgs/:orgId/groups`): create one (by hand or
 * bound to an LDAP / AD group), show its members (`GET /v1/groups/:id`), add
 * and remove people and nested groups, delete it. Changes are for org admins.
 */
import { type FormEvent, useState } from 'react';
import { api, seg } from '../../api/client.ts';
import {
  Badge,
  Button,
  Card,
  EmptyState,
  SelectField,
  Spinner,
  TextField,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import { ConfirmDialog, isNotForYou, PersonName, ProblemNote } from './parts.tsx';
import type { Group, GroupMembership, Org, OrgUser } from './types.ts';

export default function OrgGroups({ org, isAdmin }: { org: Org; isAdmin: boolean }) {
  const groups = useResource(`org-groups:${org.id}`, (signal) =>
    api.get<{ groups: Group[] }>(`/v1/orgs/${seg(org.id)}/groups`, { signal }),
  );
  // Names of people: the org's accounts, which only its admins may list.
  const users = useResource(isAdmin ? `org-users:${org.id}` : null, (signal) =>
    api.get<{ users: OrgUser[] }>('/v1/admin/users', { signal }),
  );
  const [open, setOpen] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Group | null>(null);
  const list = [...(groups.data?.groups ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const people = (users.data?.users ?? []).filter((u) => u.orgId === org.id);

  return (
    <>
      {isAdmin && creating ? (
        <Card>
          <h2>New group</h2>
          <CreateGroupForm
            orgId={org.id}
            onCancel={() => setCreating(false)}
            onCreated={(group) => {
              setCreating(false);
              setOpen(group.id);
              groups.reload();
            }}
          />
        </Card>
      ) : null}
      <Card>
        <div className="section-head">
          <h2>Groups{groups.data ? ` (${list.length})` : ''}</h2>
          {isAdmin && !creating ? (
            <Button variant="primary" onClick={() => setCreating(true)}>
              New group
            </Button>
          ) : null}
        </div>
        <p className="muted">
          A group can be a member of this organisation’s projects: everyone in it, and in the groups
          nested in it, gets the group’s role there.
        </p>
        <ProblemNote error={groups.error} />
        {users.error && !isNotForYou(users.error) ? <ProblemNote error={users.error} /> : null}
        {groups.loading && !groups.data ? <Spinner label="Loading groups…" /> : null}
        {groups.data && list.length === 0 ? (
          <EmptyState title="No groups yet">
            {isAdmin ? <p>Create one to give a team a role in projects at once.</p> : null}
          </EmptyState>
        ) : null}
        {list.length > 0 ? (
          <ul className="list">
            {list.map((group) => (
              <li key={group.id} className="group-item">
                <div className="group-row">
                  <span className="person">
                    <span className="person-name">{group.name}</span>
                    {group.ldapDn ? <span className="dn">{group.ldapDn}</span> : null}
                  </span>
                  <span className="btn-row">
                    {group.ldapDn ? (
                      <Badge tone="info" title="Members follow this LDAP / AD group">
                        LDAP-bound
                      </Badge>
                    ) : null}
                    <Button
                      className="btn-small"
                      aria-expanded={open === group.id}
                      aria-controls={`group-${group.id}`}
                      onClick={() => setOpen(open === group.id ? null : group.id)}
                    >
                      {open === group.id ? 'Hide members' : 'Show members'}
                      <span className="visually-hidden"> of {group.name}</span>
                    </Button>
                    {isAdmin ? (
                      <Button
                        className="btn-small"
                        variant="danger"
                        onClick={() => setDeleting(group)}
                      >
                        Delete<span className="visually-hidden"> {group.name}</span>
                      </Button>
                    ) : null}
                  </span>
                </div>
                {open === group.id ? (
                  <div id={`group-${group.id}`} className="group-detail">
                    <GroupMembers group={group} groups={list} people={people} isAdmin={isAdmin} />
                  </div>
                ) : null}
              </li>
            ))}
          </ul>
        ) : null}
      </Card>
      <ConfirmDialog
        open={deleting !== null}
        title={deleting ? `Delete the group ${deleting.name}?` : 'Delete the group?'}
        confirmLabel="Delete group"
        danger
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (!deleting) return;
          await api.delete(`/v1/groups/${seg(deleting.id)}`);
          if (open === deleting.id) setOpen(null);
          groups.reload();
        }}
      >
        <p>
          Everyone who has a role in a project only through this group loses it at their next
          request. People and nested groups are not deleted.
        </p>
      </ConfirmDialog>
    </>
  );
}

function CreateGroupForm({
  orgId,
  onCreated,
  onCancel,
}: {
  orgId: string;
  onCreated: (group: Group) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState('');
  const [ldapDn, setLdapDn] = useState('');
  const [tried, setTried] = useState(false);
  const create = useAction(async () =>
    api.post<{ group: Group }>(`/v1/orgs/${seg(orgId)}/groups`, {
      name: name.trim(),
      ...(ldapDn.trim() ? { ldapDn: ldapDn.trim() } : {}),
    }),
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (!name.trim()) return;
    const made = await create.run();
    if (made) onCreated(made.group);
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <div className="form-grid">
        <TextField
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={100}
          required
          autoComplete="off"
          error={tried && !name.trim() ? 'Give the group a name.' : null}
        />
        <TextField
          label="LDAP / AD group DN (optional)"
          hint="e.g. cn=engineering,ou=groups,dc=example,dc=org — its members (as of their last sign-in or sync) belong to this group too."
          value={ldapDn}
          onChange={(e) => setLdapDn(e.target.value)}
          maxLength={1000}
          autoComplete="off"
          spellCheck={false}
        />
      </div>
      <ProblemNote error={create.error} />
      <div className="btn-row">
        <Button type="submit" variant="primary" busy={create.busy}>
          Create group
        </Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

function GroupMembers({
  group,
  groups,
  people,
  isAdmin,
}: {
  group: Group;
  groups: Group[];
  people: OrgUser[];
  isAdmin: boolean;
}) {
  const detail = useResource(`group:${group.id}`, (signal) =>
    api.get<{ group: Group; members: GroupMembership[] }>(`/v1/groups/${seg(group.id)}`, {
      signal,
    }),
  );
  const [kind, setKind] = useState<'user' | 'group'>('user');
  const [chosen, setChosen] = useState('');
  const members = detail.data?.members ?? [];
  const has = new Set(members.map((m) => `${m.kind}:${m.id}`));
  const personById = new Map(people.map((p) => [p.id, p]));
  const groupById = new Map(groups.map((g) => [g.id, g]));

  const add = useAction(async () => {
    await api.put(`/v1/groups/${seg(group.id)}/members/${kind}/${seg(chosen)}`);
    setChosen('');
    detail.reload();
  });
  const remove = useAction(async (member: GroupMembership) => {
    await api.delete(`/v1/groups/${seg(group.id)}/members/${member.kind}/${seg(member.id)}`);
    detail.reload();
  });

  const candidates =
    kind === 'user'
      ? people
          .filter((p) => p.orgRole !== 'guest' && !has.has(`user:${p.id}`))
          .sort((a, b) => a.displayName.localeCompare(b.displayName))
          .map((p) => ({
            value: p.id,
            label: `${p.displayName}${p.username ? ` (@${p.username})` : ''}${p.status === 'disabled' ? ' — disabled' : ''}`,
          }))
      : groups
          .filter((g) => g.id !== group.id && !has.has(`group:${g.id}`))
          .map((g) => ({ value: g.id, label: g.name }));

  return (
    <>
      <h3>Members of {group.name}</h3>
      {detail.loading && !detail.data ? <Spinner label="Loading members…" /> : null}
      <ProblemNote error={detail.error} />
      {detail.data && members.length === 0 ? (
        <p className="muted">
          {group.ldapDn
            ? 'Nobody added by hand. People in the LDAP group are members too, but are not listed here.'
            : 'Nobody yet.'}
        </p>
      ) : null}
      {members.length > 0 ? (
        <ul className="list">
          {members.map((m) => {
            const person = m.kind === 'user' ? personById.get(m.id) : undefined;
            const nested = m.kind === 'group' ? groupById.get(m.id) : undefined;
            const name =
              person?.displayName ??
              nested?.name ??
              (m.kind === 'user' ? `A person (${m.id.slice(0, 8)})` : 'A group');
            return (
              <li key={`${m.kind}:${m.id}`}>
                <span className="btn-row">
                  {person ? (
                    <PersonName name={person.displayName} username={person.username} />
                  ) : (
                    <span className="person-name">{name}</span>
                  )}
                  {m.kind === 'group' ? <Badge>Group</Badge> : null}
                </span>
                {isAdmin ? (
                  <Button
                    className="btn-small"
                    variant="danger"
                    busy={remove.busy}
                    onClick={() => void remove.run(m)}
                  >
                    Remove<span className="visually-hidden"> {name} from the group</span>
                  </Button>
                ) : null}
              </li>
            );
          })}
        </ul>
      ) : null}
      <ProblemNote error={remove.error} />
      {isAdmin ? (
        <form
          className="spaced"
          onSubmit={(e) => {
            e.preventDefault();
            if (chosen) void add.run();
          }}
        >
          <div className="inline-fields">
            <SelectField
              label="Add"
              value={kind}
              onChange={(e) => {
                setKind(e.target.value === 'group' ? 'group' : 'user');
                setChosen('');
              }}
              options={[
                { value: 'user', label: 'A person' },
                { value: 'group', label: 'A group (nested)' },
              ]}
            />
            <SelectField
              label={kind === 'user' ? 'Person' : 'Group'}
              value={chosen}
              onChange={(e) => setChosen(e.target.value)}
              options={[
                {
                  value: '',
                  label: candidates.length ? 'Choose…' : 'Nobody left to add',
                },
                ...candidates,
              ]}
            />
          </div>
          <ProblemNote error={add.error} />
          <Button type="submit" busy={add.busy} disabled={!chosen}>
            Add to {group.name}
          </Button>
        </form>
      ) : null}
    </>
  );
}
