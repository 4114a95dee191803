/**
 * The directory screens' pure rules: who may change whom (a mirror of the
 * server's rules, only to decide which controls to offer; the server still
 * decides), input checks, and the words for states. No React, no fetch:
 * tested with node:test in logic.test.ts.
 */
import type { Invitation, LinkRole, Member, OrgRole, PartnerLink, ProjectRole } from './types.ts';

export const roleRank: Record<ProjectRole, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };
const ALL_ROLES: ProjectRole[] = ['owner', 'admin', 'member', 'viewer'];

export const roleLabel: Record<ProjectRole, string> = {
  owner: 'Owner',
  admin: 'Admin',
  member: 'Member',
  viewer: 'Viewer',
};

export const orgRoleLabel: Record<OrgRole, string> = {
  owner: 'Org owner',
  admin: 'Org admin',
  member: 'Org member',
  guest: 'Guest',
};

/** The roles from `max` down to viewer, strongest first. */
export function rolesUpTo(max: ProjectRole): ProjectRole[] {
  return ALL_ROLES.filter((r) => roleRank[r] <= roleRank[max]);
}

/** How a member stands in a project: the org's own, a partner org's, or a guest. */
export type Standing = 'internal' | 'partner' | 'guest';

export function memberStanding(
  member: Pick<Member, 'kind' | 'viaLinkId' | 'orgId'>,
  projectOrgId: string,
): Standing {
  if (member.kind === 'internal') return 'internal';
  // Partner people come through a link; guests are external people of the project's own org.
  if (member.viaLinkId === null || member.orgId === projectOrgId) return 'guest';
  return 'partner';
}

/** The signed-in person, as far as the directory's rules need them. */
export interface Viewer {
  userId: string;
  orgId: string | null;
  orgRole: OrgRole | null;
}

/** The viewer's standing in one project (from `GET /v1/projects/:id`). */
export interface ProjectStanding {
  orgId: string;
  role: ProjectRole | null;
  kind: 'internal' | 'external';
}

const isOrgAdminRole = (role: OrgRole | null | undefined) => role === 'owner' || role === 'admin';

/** Admins and owners of the project's org, and its internal project admins and owners. */
export function isProjectAdmin(viewer: Viewer, project: ProjectStanding): boolean {
  if (viewer.orgId === project.orgId && isOrgAdminRole(viewer.orgRole)) return true;
  return project.kind === 'internal' && project.role !== null && roleRank[project.role] >= 3;
}

/** An admin of another org: the project may have a partner link to it. */
export function isOtherOrgAdmin(viewer: Viewer, project: ProjectStanding): boolean {
  return viewer.orgId !== null && viewer.orgId !== project.orgId && isOrgAdminRole(viewer.orgRole);
}

/** Only project owners and the org's owners and admins make owners. */
export function mayMakeOwner(viewer: Viewer, project: ProjectStanding): boolean {
  if (viewer.orgId === project.orgId && isOrgAdminRole(viewer.orgRole)) return true;
  return project.role === 'owner';
}

export interface MemberControl {
  /** The roles the viewer may give this member (empty: no control). */
  roles: ProjectRole[];
  /** Whether the viewer may remove this member. */
  canRemove: boolean;
}

/**
 * What the viewer may do to one member, mirroring the server: project admins
 * manage the org's people and existing members (externals capped by their
 * link, guests by member); a partner org's admins manage their own people
 * through an active link, up to its maxRole.
 */
export function memberControl(
  viewer: Viewer,
  project: ProjectStanding,
  member: Pick<Member, 'kind' | 'viaLinkId' | 'orgId' | 'role'>,
  links: PartnerLink[],
): MemberControl {
  const none: MemberControl = { roles: [], canRemove: false };
  if (isProjectAdmin(viewer, project)) {
    let max: ProjectRole;
    if (member.kind === 'internal') max = mayMakeOwner(viewer, project) ? 'owner' : 'admin';
    else {
      const link = member.viaLinkId ? links.find((l) => l.id === member.viaLinkId) : undefined;
      max = link?.maxRole ?? 'member';
    }
    // Someone who is an owner and may not be touched by a non-owner keeps their role.
    if (member.role === 'owner' && !mayMakeOwner(viewer, project)) return none;
    return { roles: rolesUpTo(max), canRemove: true };
  }
  if (isOtherOrgAdmin(viewer, project) && member.orgId === viewer.orgId) {
    const link = links.find((l) => l.partnerOrgId === viewer.orgId && l.status === 'active');
    if (!link) return none;
    return { roles: rolesUpTo(link.maxRole), canRemove: true };
  }
  return none;
}

/** A partner org's live link to this project, for the viewer's org. */
export function ownPartnerLink(
  viewer: Viewer,
  project: ProjectStanding,
  links: PartnerLink[],
): PartnerLink | null {
  if (!isOtherOrgAdmin(viewer, project)) return null;
  return links.find((l) => l.partnerOrgId === viewer.orgId && l.status !== 'ended') ?? null;
}

/** Members sorted: strongest role first, then by name. */
export function sortMembers<T extends Pick<Member, 'role' | 'displayName' | 'username'>>(
  members: T[],
): T[] {
  return [...members].sort(
    (a, b) =>
      roleRank[b.role] - roleRank[a.role] ||
      (a.displayName ?? a.username ?? '').localeCompare(b.displayName ?? b.username ?? ''),
  );
}

// --- input checks -----------------------------------------------------------

const issuePattern = /^([A-Z][A-Z0-9]{1,9})-([1-9][0-9]{0,8})$/;

/**
 * A linked issue as typed ("bul-12 ", "BUL-12") → the header value, or a
 * reason it cannot be one. Empty is fine unless the project requires it.
 * An empty `projectKey` (not known) checks only the form.
 */
export function checkIssueRef(
  text: string,
  projectKey: string,
  required = false,
): { issue: string | undefined; error: string | null } {
  const value = text.trim().toUpperCase();
  const example = `${projectKey || 'KEY'}-12`;
  if (value === '') {
    return {
      issue: undefined,
      error: required
        ? `This project requires every change to name one of its issues, for example ${example}.`
        : null,
    };
  }
  const match = issuePattern.exec(value);
  if (!match) {
    return {
      issue: undefined,
      error: `Write the issue as ${example}: the project key, a dash and the issue number.`,
    };
  }
  if (projectKey && match[1] !== projectKey) {
    return {
      issue: undefined,
      error: `${value} is not an issue of this project; its issues are ${projectKey}-….`,
    };
  }
  return { issue: value, error: null };
}

export const slugPattern = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const projectKeyPattern = /^[A-Z][A-Z0-9]{1,9}$/;

/** A slug suggested from an org's name: "Acme Corp." → "acme-corp". */
export function suggestSlug(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
}

/** A project key suggested from its name: "Apollo 11" → "APOLLO11". */
export function suggestProjectKey(name: string): string {
  const letters = name
    .normalize('NFKD')
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '');
  const key = letters.replace(/^[0-9]+/, '').slice(0, 10);
  return key.length >= 2 ? key : '';
}

export function slugProblem(slug: string): string | null {
  if (slug === '') return 'Give the org a slug.';
  return slugPattern.test(slug)
    ? null
    : 'Use 1–40 lowercase letters, digits and dashes, not starting or ending with a dash.';
}

export function projectKeyProblem(key: string): string | null {
  if (key === '') return 'Give the project a key.';
  return projectKeyPattern.test(key)
    ? null
    : 'Use 2–10 capital letters and digits, starting with a letter (for example APOLLO).';
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const domainPattern = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** "dana@acme.example" → an e-mail invitation; "acme.example" or "@acme.example" → a domain one. */
export function inviteTarget(
  text: string,
): { email: string } | { domain: string } | { error: string } {
  const value = text.trim();
  if (value === '') return { error: 'Give an e-mail address or a domain.' };
  const bareDomain = value.startsWith('@') ? value.slice(1) : null;
  if (bareDomain === null && value.includes('@')) {
    return emailPattern.test(value)
      ? { email: value.toLowerCase() }
      : { error: `"${value}" is not an e-mail address.` };
  }
  const domain = (bareDomain ?? value).toLowerCase();
  return domainPattern.test(domain)
    ? { domain }
    : { error: `"${value}" is neither an e-mail address nor a domain like example.org.` };
}

// --- words ------------------------------------------------------------------

/** "1 person found", "3 people found", "No one found". */
export function resultCount(count: number, limited = false): string {
  if (count === 0) return 'No one found.';
  const noun = count === 1 ? 'person' : 'people';
  return `${count}${limited ? ' or more' : ''} ${noun} found.`;
}

/** "in 3 days", "in 5 hours", "2 days ago". */
export function relativeTime(iso: string, now: Date = new Date()): string {
  const at = new Date(iso).getTime();
  if (Number.isNaN(at)) return iso;
  const seconds = Math.round((at - now.getTime()) / 1000);
  const format = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(seconds, 'second');
  if (abs < 3600) return format.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400 * 2) return format.format(Math.round(seconds / 3600), 'hour');
  return format.format(Math.round(seconds / 86400), 'day');
}

export type Tone = 'neutral' | 'info' | 'success' | 'warning' | 'danger';

export const linkStatusTone: Record<PartnerLink['status'], Tone> = {
  pending: 'warning',
  active: 'success',
  ended: 'neutral',
};

export const linkStatusLabel: Record<PartnerLink['status'], string> = {
  pending: 'Pending',
  active: 'Active',
  ended: 'Ended',
};

export const invitationStateTone: Record<Invitation['state'], Tone> = {
  open: 'info',
  used: 'success',
  revoked: 'neutral',
  expired: 'neutral',
};

export const invitationStateLabel: Record<Invitation['state'], string> = {
  open: 'Open',
  used: 'Used',
  revoked: 'Revoked',
  expired: 'Expired',
};

/** Open invitations first, then newest first. */
export function sortInvitations(list: Invitation[]): Invitation[] {
  return [...list].sort(
    (a, b) =>
      Number(b.state === 'open') - Number(a.state === 'open') ||
      b.createdAt.localeCompare(a.createdAt),
  );
}

/** An org's links split into those of its own projects and those inviting it. */
export function splitLinks(
  links: PartnerLink[],
  orgId: string,
): { outgoing: PartnerLink[]; incoming: PartnerLink[] } {
  const live = (l: PartnerLink) => (l.status === 'ended' ? 1 : 0);
  const order = (a: PartnerLink, b: PartnerLink) =>
    live(a) - live(b) || b.createdAt.localeCompare(a.createdAt);
  return {
    outgoing: links.filter((l) => l.hostOrgId === orgId).sort(order),
    incoming: links.filter((l) => l.partnerOrgId === orgId && l.hostOrgId !== orgId).sort(order),
  };
}

export const maxRoleChoices: { value: LinkRole; label: string }[] = [
  { value: 'member', label: 'Member (default)' },
  { value: 'viewer', label: 'Viewer' },
  { value: 'admin', label: 'Admin' },
];

/**
 * A few plain words to add under the server's message, for the answers a
 * person can do something about. Null when the message says it all.
 */
export function errorHint(code: string, status: number, projectKey = 'KEY'): string | null {
  switch (code) {
    case 'issue_link_required':
      return `This project requires every change to name one of its issues. Fill in “Linked issue” (for example ${projectKey}-12) and try again.`;
    case 'issue_link_invalid':
      return `Check “Linked issue”: it must be an existing issue of this project, written like ${projectKey}-12.`;
    case 'step_up_required':
      return 'This change needs you to confirm it is you (passkey or authenticator code). Nothing was changed; try again and confirm.';
    case 'would_lock_out':
      return 'Nothing was changed: give someone else that role first.';
    case 'forbidden':
      return 'You are not allowed to do this here. An admin of the project or the org can do it for you.';
    case 'not_found':
      return 'It does not exist, or it is not visible to you (it may have been removed, or it belongs to another org). Reload the page to see the current state.';
    default:
      if (status === 403) return 'You are not allowed to do this here.';
      if (status === 404) return 'It does not exist or is not visible to you.';
      return null;
  }
}
