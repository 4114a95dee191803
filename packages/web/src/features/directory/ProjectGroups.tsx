/**
 * The groups of the project's org that are members of the project, with
 * their roles (`PUT` / `DELETE /v1/projects/:projectId/groups/:groupId`).
 * Group names come from the org's group list, which only its people see.
 */
import { type FormEvent, useState } from 'react';
import { api, seg } from '../../api/client.ts';
import { Button, Card, Dialog, EmptyState, SelectField, useAction } from '../../ui/components.tsx';
import { roleLabel } from './logic.ts';
import { type IssueRule, isNotForYou, ProblemNote, useIssueInput } from './parts.tsx';
import type { Group, Project, ProjectGroup, ProjectRole } from './types.ts';

type GroupRole = Exclude<ProjectRole, 'owner'>;
const groupRoles: GroupRole[] = ['admin', 'member', 'viewer'];

export default function ProjectGroups({
  project,
  groups,
  orgGroups,
  orgGroupsError,
  admin,
  issueRule,
  onChanged,
}: {
  project: Project;
  groups: ProjectGroup[];
  orgGroups: Group[] | undefined;
  orgGroupsError: unknown;
  admin: boolean;
  issueRule: IssueRule;
  onChanged: () => void;
}) {
  const [managing, setManaging] = useState<ProjectGroup | null>(null);
  const byId = new Map((orgGroups ?? []).map((g) => [g.id, g]));
  const nameOf = (id: string) => byId.get(id)?.name ?? 'A group of the organisation';
  const addable = (orgGroups ?? []).filter((g) => !groups.some((pg) => pg.groupId === g.id));
  const sorted = [...groups].sort((a, b) => nameOf(a.groupId).localeCompare(nameOf(b.groupId)));

  if (!admin && groups.length === 0) return null;
  return (
    <Card>
      <h2>Groups{groups.length ? ` (${groups.length})` : ''}</h2>
      <p className="muted">
        Everyone in a member group (and in the groups nested in it) has the group’s role here, or
        their own role if it is stronger.
      </p>
      {orgGroupsError && !isNotForYou(orgGroupsError) ? (
        <ProblemNote error={orgGroupsError} />
      ) : null}
      {groups.length === 0 ? (
        <EmptyState title="No groups are members" />
      ) : (
        <ul className="list">
          {sorted.map((g) => (
            <li key={g.groupId}>
              <span className="person">
                <span className="person-name">{nameOf(g.groupId)}</span>
                <span className="person-sub">{roleLabel[g.role]}</span>
              </span>
              {admin ? (
                <Button className="btn-small" onClick={() => setManaging(g)}>
                  Manage<span className="visually-hidden"> the group {nameOf(g.groupId)}</span>
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {admin ? (
        <AddGroup
          projectId={project.id}
          addable={addable}
          loaded={orgGroups !== undefined}
          issueRule={issueRule}
          onAdded={onChanged}
        />
      ) : null}
      <Dialog
        open={managing !== null}
        title={managing ? `Manage the group ${nameOf(managing.groupId)}` : 'Manage group'}
        onClose={() => setManaging(null)}
      >
        {managing ? (
          <ManageGroup
            key={managing.groupId}
            projectId={project.id}
            group={managing}
            issueRule={issueRule}
            onDone={() => {
              setManaging(null);
              onChanged();
            }}
          />
        ) : null}
      </Dialog>
    </Card>
  );
}

function AddGroup({
  projectId,
  addable,
  loaded,
  issueRule,
  onAdded,
}: {
  projectId: string;
  addable: Group[];
  loaded: boolean;
  issueRule: IssueRule;
  onAdded: () => void;
}) {
  const [groupId, setGroupId] = useState('');
  const [role, setRole] = useState<GroupRole>('member');
  const issue = useIssueInput(issueRule.projectKey, issueRule.required);
  const add = useAction(async (ref: string | undefined) => {
    await api.put(
      `/v1/projects/${seg(projectId)}/groups/${seg(groupId)}`,
      { role },
      { issue: ref },
    );
    setGroupId('');
    onAdded();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!groupId) return;
    const resolved = issue.resolve();
    if (resolved) void add.run(resolved.issue);
  };
  return (
    <form onSubmit={submit} noValidate className="spaced">
      <h3>Add a group</h3>
      <div className="inline-fields">
        <SelectField
          label="Group"
          value={groupId}
          onChange={(e) => setGroupId(e.target.value)}
          options={[
            {
              value: '',
              label: !loaded
                ? 'Loading groups…'
                : addable.length
                  ? 'Choose a group…'
                  : 'No other groups in the organisation',
            },
            ...addable.map((g) => ({ value: g.id, label: g.name })),
          ]}
        />
        <SelectField
          label="Role"
          value={role}
          onChange={(e) => setRole(e.target.value as GroupRole)}
          options={groupRoles.map((r) => ({ value: r, label: roleLabel[r] }))}
        />
      </div>
      <p className="field-hint">Groups can be at most admin: owners are people.</p>
      {issue.field}
      <ProblemNote error={add.error} projectKey={issueRule.projectKey} />
      <Button type="submit" variant="primary" busy={add.busy} disabled={!groupId}>
        Add group
      </Button>
    </form>
  );
}

function ManageGroup({
  projectId,
  group,
  issueRule,
  onDone,
}: {
  projectId: string;
  group: ProjectGroup;
  issueRule: IssueRule;
  onDone: () => void;
}) {
  const [role, setRole] = useState<GroupRole>(group.role === 'owner' ? 'admin' : group.role);
  const issue = useIssueInput(issueRule.projectKey, issueRule.required);
  const path = `/v1/projects/${seg(projectId)}/groups/${seg(group.groupId)}`;
  const save = useAction(async (ref: string | undefined) => {
    await api.put(path, { role }, { issue: ref });
    onDone();
  });
  const remove = useAction(async (ref: string | undefined) => {
    await api.delete(path, { issue: ref });
    onDone();
  });
  const withIssue = (run: (ref: string | undefined) => Promise<unknown>) => {
    const resolved = issue.resolve();
    if (resolved) void run(resolved.issue);
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        withIssue(save.run);
      }}
      noValidate
    >
      <SelectField
        label="Role of the group"
        value={role}
        onChange={(e) => setRole(e.target.value as GroupRole)}
        options={groupRoles.map((r) => ({ value: r, label: roleLabel[r] }))}
      />
      {issue.field}
      <ProblemNote error={save.error ?? remove.error} projectKey={issueRule.projectKey} />
      <div className="btn-row">
        <Button type="submit" variant="primary" busy={save.busy} disabled={role === group.role}>
          Save role
        </Button>
        <Button variant="danger" busy={remove.busy} onClick={() => withIssue(remove.run)}>
          Remove group from project
        </Button>
      </div>
      <p className="field-hint">
        Removing it takes the role away from its people at their next request (unless they are
        members themselves).
      </p>
    </form>
  );
}
