/**
 * The directory's shapes as the server sends them (docs/api.md: Orgs,
 * Projects, Members, Groups, Partner links, Invitations, Directory search,
 * Users). Only types: no runtime code, so node:test can import it too.
 */

export type OrgRole = 'owner' | 'admin' | 'member' | 'guest';
export type ProjectRole = 'owner' | 'admin' | 'member' | 'viewer';
export type LinkRole = 'admin' | 'member' | 'viewer';

export interface Org {
  id: string;
  slug: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

export interface Project {
  id: string;
  orgId: string;
  key: string;
  name: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

/** `GET /v1/projects/:projectId/members` → members[]. */
export interface Member {
  userId: string;
  role: ProjectRole;
  kind: 'internal' | 'external';
  viaLinkId: string | null;
  orgId: string | null;
  createdAt: string;
  displayName: string | null;
  username: string | null;
}

/** `GET /v1/projects/:projectId/members` → groups[]. */
export interface ProjectGroup {
  groupId: string;
  role: ProjectRole;
  createdAt: string;
}

export interface Group {
  id: string;
  orgId: string;
  name: string;
  ldapDn: string | null;
  createdAt: string;
}

export interface GroupMembership {
  kind: 'user' | 'group';
  id: string;
}

export interface PartnerLink {
  id: string;
  projectId: string;
  hostOrgId: string;
  partnerOrgId: string;
  maxRole: LinkRole;
  status: 'pending' | 'active' | 'ended';
  createdBy: string;
  createdAt: string;
  acceptedAt: string | null;
  endedAt: string | null;
}

export interface Invitation {
  id: string;
  projectId: string;
  role: LinkRole;
  email: string | null;
  domain: string | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  state: 'open' | 'used' | 'revoked' | 'expired';
  usedBy: string | null;
}

/** `GET /v1/admin/users` → users[] (the accounts of the caller's org). */
export interface OrgUser {
  id: string;
  displayName: string;
  username: string | null;
  email: string | null;
  status: 'active' | 'disabled';
  isAdmin: boolean;
  orgId: string | null;
  orgRole: OrgRole | null;
  source: 'local' | 'ldap' | 'oidc';
  createdAt: string;
}

/** `GET /v1/directory/search` → people[]. */
export interface Person {
  id: string;
  displayName: string;
  username: string | null;
  email: string | null;
  orgId: string | null;
  external: boolean;
}

/** A one-time passkey enrolment link (new accounts, org owners, re-enrolment). */
export interface EnrolmentLink {
  enrolUrl: string;
  expiresAt: string;
}
