/**
 * A project's people (`GET /v1/projects/:projectId/members`): members with
 * Internal / External / Guest badges and roles, changed or removed where the
 * viewer may; adding an existing person; the project's groups; invitations;
 * partner links, and for a partner org's admins their own link and people.
 * Changes carry an optional linked issue (`Bulwark-Issue`), required when the
 * project's policy says so.
 */
import { type FormEvent, useState } from 'react';
import { useLocation } from 'wouter';
import { api, seg } from '../../api/client.ts';
import {
  Banner,
  Button,
  Card,
  Dialog,
  EmptyState,
  SelectField,
  Spinner,
  useAction,
  useResource,
} from '../../ui/components.tsx';
import type { ProjectInfo } from '../project/ProjectPage.tsx';
import {
  isOtherOrgAdmin,
  isProjectAdmin,
  type MemberControl,
  mayMakeOwner,
  memberControl,
  memberStanding,
  ownPartnerLink,
  type ProjectStanding,
  roleLabel,
  rolesUpTo,
  sortMembers,
} from './logic.ts';
import ProjectGroups from './ProjectGroups.tsx';
import ProjectInvitations from './ProjectInvitations.tsx';
import { OwnPartnerLink, ProjectPartnerLinks } from './ProjectPartnerLinks.tsx';
import {
  ConfirmDialog,
  type IssueRule,
  isNotForYou,
  orgLabel,
  PersonBadges,
  PersonName,
  PersonPicker,
  ProblemNote,
  useIssueInput,
  useOrgs,
  useViewer,
} from './parts.tsx';
import type { Group, Member, PartnerLink, Person, ProjectGroup, ProjectRole } from './types.ts';

export default function ProjectMembersPage({ project: info }: { project: ProjectInfo }) {
  const { project } = info;
  const viewer = useViewer();
  const [, navigate] = useLocation();
  const standing: ProjectStanding = { orgId: project.orgId, role: info.role, kind: info.kind };
  const admin = isProjectAdmin(viewer, standing);
  const otherAdmin = isOtherOrgAdmin(viewer, standing);
  const sameOrgStaff =
    viewer.orgId === project.orgId && viewer.orgRole !== null && viewer.orgRole !== 'guest';

  const members = useResource(`project-members:${project.id}`, (signal) =>
    api.get<{ members: Member[]; groups: ProjectGroup[] }>(
      `/v1/projects/${seg(project.id)}/members`,
      { signal },
    ),
  );
  const links = useResource(admin || otherAdmin ? `project-links:${project.id}` : null, (signal) =>
    api.get<{ links: PartnerLink[] }>(`/v1/projects/${seg(project.id)}/partner-links`, {
      signal,
    }),
  );
  const policy = useResource(`project-issue-rule:${project.id}`, async (signal) => {
    try {
      const answer = await api.get<{ effective?: { issueLinkRequired?: boolean } }>(
        `/v1/projects/${seg(project.id)}/policy`,
        { signal },
      );
      return answer.effective?.issueLinkRequired === true;
    } catch (error) {
      if (signal.aborted) throw error;
      return false; // Unknown: the field stays optional and the server still says so if needed.
    }
  });
  const orgGroups = useResource(sameOrgStaff ? `org-groups:${project.orgId}` : null, (signal) =>
    api.get<{ groups: Group[] }>(`/v1/orgs/${seg(project.orgId)}/groups`, { signal }),
  );
  const orgs = useOrgs();

  const linkList = links.data?.links ?? [];
  const ownLink = ownPartnerLink(viewer, standing, linkList);
  const issueRequired = policy.data ?? false;
  const issueRule = { projectKey: project.key, required: issueRequired };
  const reload = () => {
    members.reload();
    links.reload();
  };

  const [managing, setManaging] = useState<{ member: Member; control: MemberControl } | null>(null);
  const [leaving, setLeaving] = useState(false);
  const list = sortMembers(members.data?.members ?? []);
  const memberIds = new Set(list.map((m) => m.userId));
  const addMax: ProjectRole | null = admin
    ? mayMakeOwner(viewer, standing)
      ? 'owner'
      : 'admin'
    : ownLink?.status === 'active'
      ? ownLink.maxRole
      : null;

  return (
    <>
      {issueRequired ? (
        <Banner tone="info" title="Changes here name an issue">
          This project’s policy asks every change to name one of its issues: fill in “Linked issue”
          (for example {project.key}-12) when you change members, groups, invitations or partner
          links.
        </Banner>
      ) : null}

      {otherAdmin && ownLink ? (
        <OwnPartnerLink
          link={ownLink}
          project={project}
          orgName={orgLabel(orgs.byId, viewer.orgId, 'your organisation')}
          issueRule={issueRule}
          onChanged={reload}
        />
      ) : null}

      <Card>
        <div className="section-head">
          <h2>Members{members.data ? ` (${list.length})` : ''}</h2>
          {info.role !== null ? (
            <Button variant="ghost" onClick={() => setLeaving(true)}>
              Leave project
            </Button>
          ) : null}
        </div>
        <ProblemNote error={members.error} projectKey={project.key} />
        {links.error && !isNotForYou(links.error) ? (
          <ProblemNote error={links.error} projectKey={project.key} />
        ) : null}
        {members.loading && !members.data ? <Spinner label="Loading members…" /> : null}
        {members.data && list.length === 0 ? (
          <EmptyState title="No people are members directly">
            <p>Members through groups are listed under Groups.</p>
          </EmptyState>
        ) : null}
        {list.length > 0 ? (
          <div className="table-wrap">
            <table className="table stack-table">
              <caption className="visually-hidden">Members of {project.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Person</th>
                  <th scope="col">Standing</th>
                  <th scope="col">Role</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((m) => {
                  const memberStand = memberStanding(m, project.orgId);
                  const control = memberControl(viewer, standing, m, linkList);
                  const name = m.displayName ?? m.username ?? 'this person';
                  return (
                    <tr key={m.userId}>
                      <td className="primary" data-label="Person">
                        <PersonName name={m.displayName} username={m.username} />
                      </td>
                      <td data-label="Standing">
                        <PersonBadges
                          standing={memberStand}
                          you={m.userId === viewer.userId}
                          extra={
                            memberStand === 'partner' ? (
                              <span className="muted">
                                via {orgLabel(orgs.byId, m.orgId, 'a partner organisation')}
                              </span>
                            ) : null
                          }
                        />
                      </td>
                      <td data-label="Role">{roleLabel[m.role]}</td>
                      <td className="actions">
                        {control.roles.length > 0 || control.canRemove ? (
                          <Button
                            className="btn-small"
                            onClick={() => setManaging({ member: m, control })}
                          >
                            Manage<span className="visually-hidden"> {name}</span>
                          </Button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
      </Card>

      {addMax ? (
        <Card>
          <h2>
            {admin
              ? 'Add a person'
              : `Add people of ${orgLabel(orgs.byId, viewer.orgId, 'your organisation')}`}
          </h2>
          <AddPerson
            projectId={project.id}
            issueRule={issueRule}
            maxRole={addMax}
            partner={!admin}
            memberIds={memberIds}
            onAdded={reload}
          />
        </Card>
      ) : null}

      <ProjectGroups
        project={project}
        groups={members.data?.groups ?? []}
        orgGroups={orgGroups.data?.groups}
        orgGroupsError={orgGroups.error}
        admin={admin}
        issueRule={issueRule}
        onChanged={members.reload}
      />

      {admin ? <ProjectInvitations project={project} issueRule={issueRule} /> : null}

      {admin ? (
        <ProjectPartnerLinks
          project={project}
          links={links.data?.links}
          loading={links.loading}
          orgs={orgs.byId}
          issueRule={issueRule}
          onChanged={reload}
        />
      ) : null}

      <Dialog
        open={managing !== null}
        title={
          managing
            ? `Manage ${managing.member.displayName ?? managing.member.username ?? 'member'}`
            : 'Manage member'
        }
        onClose={() => setManaging(null)}
      >
        {managing ? (
          <ManageMember
            key={managing.member.userId}
            projectId={project.id}
            member={managing.member}
            control={managing.control}
            issueRule={issueRule}
            onDone={() => {
              setManaging(null);
              reload();
            }}
          />
        ) : null}
      </Dialog>

      <ConfirmDialog
        open={leaving}
        title={`Leave ${project.name}?`}
        confirmLabel="Leave project"
        danger
        onClose={() => setLeaving(false)}
        onConfirm={async () => {
          await api.post(`/v1/projects/${seg(project.id)}/leave`);
          navigate('~/');
        }}
      >
        <p>
          You lose access at once. To come back, someone who manages the project has to add or
          invite you again.
        </p>
      </ConfirmDialog>
    </>
  );
}

function ManageMember({
  projectId,
  member,
  control,
  issueRule,
  onDone,
}: {
  projectId: string;
  member: Member;
  control: MemberControl;
  issueRule: IssueRule;
  onDone: () => void;
}) {
  const roles = control.roles.includes(member.role)
    ? control.roles
    : [member.role, ...control.roles];
  const [role, setRole] = useState<ProjectRole>(member.role);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const issue = useIssueInput(issueRule.projectKey, issueRule.required);
  const path = `/v1/projects/${seg(projectId)}/members/${seg(member.userId)}`;
  const save = useAction(async (ref: string | undefined) => {
    await api.put(path, { role }, { issue: ref });
    onDone();
  });
  const remove = useAction(async (ref: string | undefined) => {
    await api.delete(path, { issue: ref });
    onDone();
  });
  const name = member.displayName ?? member.username ?? 'this person';
  const withIssue = (run: (ref: string | undefined) => Promise<unknown>) => {
    const resolved = issue.resolve();
    if (resolved) void run(resolved.issue);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    withIssue(save.run);
  };
  return (
    <form onSubmit={submit} noValidate>
      {control.roles.length > 0 ? (
        <SelectField
          label="Project role"
          value={role}
          onChange={(e) => setRole(e.target.value as ProjectRole)}
          options={roles.map((r) => ({ value: r, label: roleLabel[r] }))}
        />
      ) : null}
      {member.kind === 'external' ? (
        <p className="field-hint">
          External members are capped by their partner link’s highest role; guests at member.
        </p>
      ) : null}
      {issue.field}
      <ProblemNote error={save.error ?? remove.error} projectKey={issueRule.projectKey} />
      {confirmRemove ? (
        <Banner
          tone="warning"
          title={`Remove ${name} from the project?`}
          actions={
            <>
              <Button variant="danger" busy={remove.busy} onClick={() => withIssue(remove.run)}>
                Yes, remove
              </Button>
              <Button onClick={() => setConfirmRemove(false)}>Keep</Button>
            </>
          }
        >
          They lose access at once (unless a group they are in is a member).
        </Banner>
      ) : null}
      <div className="btn-row">
        {control.roles.length > 0 ? (
          <Button type="submit" variant="primary" busy={save.busy} disabled={role === member.role}>
            Save role
          </Button>
        ) : null}
        {control.canRemove && !confirmRemove ? (
          <Button variant="danger" onClick={() => setConfirmRemove(true)}>
            Remove from project
          </Button>
        ) : null}
      </div>
    </form>
  );
}

function AddPerson({
  projectId,
  issueRule,
  maxRole,
  partner,
  memberIds,
  onAdded,
}: {
  projectId: string;
  issueRule: IssueRule;
  maxRole: ProjectRole;
  partner: boolean;
  memberIds: Set<string>;
  onAdded: () => void;
}) {
  const roles = rolesUpTo(maxRole);
  const [person, setPerson] = useState<Person | null>(null);
  const [role, setRole] = useState<ProjectRole>(roles.includes('member') ? 'member' : 'viewer');
  const [added, setAdded] = useState<string | null>(null);
  const issue = useIssueInput(issueRule.projectKey, issueRule.required);
  const add = useAction(async (who: Person, ref: string | undefined) => {
    await api.put(
      `/v1/projects/${seg(projectId)}/members/${seg(who.id)}`,
      { role },
      { issue: ref },
    );
    setAdded(`${who.displayName} was added as ${roleLabel[role].toLowerCase()}.`);
    setPerson(null);
    onAdded();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!person) return;
    const resolved = issue.resolve();
    if (resolved) void add.run(person, resolved.issue);
  };
  return (
    <form onSubmit={submit} noValidate>
      <p className="muted">
        {partner
          ? `Your organisation’s partner link lets you add your own people, each at most as ${roleLabel[maxRole].toLowerCase()}.`
          : 'Add someone of this project’s organisation who already has an account. For anyone else, send an invitation or create a partner link below.'}
      </p>
      <PersonPicker
        label="Find a person"
        hint="Name, username or e-mail address."
        selected={person}
        onSelect={(p) => {
          setPerson(p);
          setAdded(null);
          add.setError(null);
        }}
        eligible={(p) =>
          memberIds.has(p.id)
            ? 'Already a member'
            : p.external
              ? partner
                ? 'Not of your organisation'
                : 'Another organisation: invite them instead'
              : null
        }
      />
      <div className="inline-fields">
        <SelectField
          label="Role"
          value={role}
          onChange={(e) => setRole(e.target.value as ProjectRole)}
          options={roles.map((r) => ({ value: r, label: roleLabel[r] }))}
        />
      </div>
      {issue.field}
      <ProblemNote error={add.error} projectKey={issueRule.projectKey} />
      <p role="status" className="muted">
        {added ?? ''}
      </p>
      <Button type="submit" variant="primary" busy={add.busy} disabled={!person}>
        {person ? `Add ${person.displayName}` : 'Add to project'}
      </Button>
    </form>
  );
}
