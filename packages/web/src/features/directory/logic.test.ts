import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkIssueRef,
  errorHint,
  inviteTarget,
  isOtherOrgAdmin,
  isProjectAdmin,
  memberControl,
  memberStanding,
  ownPartnerLink,
  projectKeyProblem,
  relativeTime,
  resultCount,
  rolesUpTo,
  slugProblem,
  sortInvitations,
  sortMembers,
  splitLinks,
  suggestProjectKey,
  suggestSlug,
  type Viewer,
} from './logic.ts';
import type { Invitation, PartnerLink } from './types.ts';

const ACME = 'org-acme';
const GLOBEX = 'org-globex';
const apolloAs = (role: 'owner' | 'admin' | 'member' | 'viewer' | null, kind = 'internal') => ({
  orgId: ACME,
  role,
  kind: kind as 'internal' | 'external',
});

const link = (over: Partial<PartnerLink> = {}): PartnerLink => ({
  id: 'link-1',
  projectId: 'apollo',
  hostOrgId: ACME,
  partnerOrgId: GLOBEX,
  maxRole: 'member',
  status: 'active',
  createdBy: 'alice',
  createdAt: '2025-01-01T00:00:00.000Z',
  acceptedAt: null,
  endedAt: null,
  ...over,
});

const alice: Viewer = { userId: 'alice', orgId: ACME, orgRole: 'owner' };
const bob: Viewer = { userId: 'bob', orgId: ACME, orgRole: 'member' };
const gus: Viewer = { userId: 'gus', orgId: GLOBEX, orgRole: 'admin' };
const gina: Viewer = { userId: 'gina', orgId: GLOBEX, orgRole: 'member' };

describe('standing', () => {
  it('tells internal, partner and guest members apart', () => {
    assert.equal(
      memberStanding({ kind: 'internal', viaLinkId: null, orgId: ACME }, ACME),
      'internal',
    );
    assert.equal(
      memberStanding({ kind: 'external', viaLinkId: 'l', orgId: GLOBEX }, ACME),
      'partner',
    );
    assert.equal(memberStanding({ kind: 'external', viaLinkId: null, orgId: ACME }, ACME), 'guest');
  });

  it('knows who administers a project', () => {
    assert.equal(isProjectAdmin(alice, apolloAs(null)), true, 'org owner, not a member');
    assert.equal(isProjectAdmin(bob, apolloAs('admin')), true);
    assert.equal(isProjectAdmin(bob, apolloAs('member')), false);
    assert.equal(isProjectAdmin(gina, apolloAs('admin', 'external')), false, 'externals never');
    assert.equal(isProjectAdmin(gus, apolloAs(null, 'external')), false);
    assert.equal(isOtherOrgAdmin(gus, apolloAs(null, 'external')), true);
    assert.equal(isOtherOrgAdmin(alice, apolloAs(null)), false);
  });
});

describe('memberControl', () => {
  const internal = {
    kind: 'internal' as const,
    viaLinkId: null,
    orgId: ACME,
    role: 'member' as const,
  };
  const partner = {
    kind: 'external' as const,
    viaLinkId: 'link-1',
    orgId: GLOBEX,
    role: 'viewer' as const,
  };
  const guest = {
    kind: 'external' as const,
    viaLinkId: null,
    orgId: ACME,
    role: 'viewer' as const,
  };

  it('lets org owners give any role to internal people', () => {
    assert.deepEqual(memberControl(alice, apolloAs(null), internal, []).roles, [
      'owner',
      'admin',
      'member',
      'viewer',
    ]);
  });

  it('lets a project admin give up to admin, and not touch owners', () => {
    const c = memberControl(bob, apolloAs('admin'), internal, []);
    assert.deepEqual(c.roles, ['admin', 'member', 'viewer']);
    const owner = memberControl(bob, apolloAs('admin'), { ...internal, role: 'owner' }, []);
    assert.deepEqual(owner, { roles: [], canRemove: false });
  });

  it('caps externals by their link and guests by member', () => {
    assert.deepEqual(
      memberControl(alice, apolloAs(null), partner, [link({ maxRole: 'viewer' })]).roles,
      ['viewer'],
    );
    assert.deepEqual(memberControl(alice, apolloAs(null), guest, []).roles, ['member', 'viewer']);
  });

  it('lets partner admins manage only their own people through an active link', () => {
    const standing = apolloAs(null, 'external');
    assert.deepEqual(memberControl(gus, standing, partner, [link()]).roles, ['member', 'viewer']);
    assert.deepEqual(memberControl(gus, standing, internal, [link()]).roles, []);
    assert.deepEqual(
      memberControl(gus, standing, partner, [link({ status: 'pending' })]).canRemove,
      false,
    );
    assert.deepEqual(
      memberControl(gina, apolloAs('member', 'external'), partner, [link()]).roles,
      [],
    );
  });

  it('finds the partner admin’s own live link', () => {
    const standing = apolloAs(null, 'external');
    assert.equal(ownPartnerLink(gus, standing, [link({ status: 'ended' })]), null);
    assert.equal(ownPartnerLink(gus, standing, [link({ status: 'pending' })])?.status, 'pending');
    assert.equal(ownPartnerLink(alice, apolloAs(null), [link()]), null);
  });

  it('sorts by role then name', () => {
    const sorted = sortMembers([
      { role: 'viewer', displayName: 'Ann', username: 'ann' },
      { role: 'owner', displayName: 'Zed', username: 'zed' },
      { role: 'viewer', displayName: 'Aaron', username: null },
    ]);
    assert.deepEqual(
      sorted.map((m) => m.displayName),
      ['Zed', 'Aaron', 'Ann'],
    );
    assert.deepEqual(rolesUpTo('member'), ['member', 'viewer']);
  });
});

describe('input checks', () => {
  it('normalises and checks a linked issue', () => {
    assert.deepEqual(checkIssueRef(' apollo-12 ', 'APOLLO'), { issue: 'APOLLO-12', error: null });
    assert.deepEqual(checkIssueRef('', 'APOLLO'), { issue: undefined, error: null });
    assert.match(checkIssueRef('', 'APOLLO', true).error ?? '', /requires/);
    assert.match(checkIssueRef('BUL-1', 'APOLLO').error ?? '', /not an issue of this project/);
    assert.match(checkIssueRef('APOLLO 12', 'APOLLO').error ?? '', /APOLLO-12/);
    assert.match(checkIssueRef('APOLLO-0', 'APOLLO').error ?? '', /dash/);
  });

  it('reads an invitation target as an e-mail address or a domain', () => {
    assert.deepEqual(inviteTarget(' Dana@Acme.example '), { email: 'dana@acme.example' });
    assert.deepEqual(inviteTarget('acme.example'), { domain: 'acme.example' });
    assert.deepEqual(inviteTarget('@Acme.example'), { domain: 'acme.example' });
    assert.ok('error' in inviteTarget(''));
    assert.ok('error' in inviteTarget('dana@'));
    assert.ok('error' in inviteTarget('localhost'));
  });

  it('suggests and checks slugs and keys', () => {
    assert.equal(suggestSlug('Acme Corp.'), 'acme-corp');
    assert.equal(suggestSlug('  Ünïcode  Öl '), 'unicode-ol');
    assert.equal(suggestSlug('x'.repeat(50)).length, 40);
    assert.equal(slugProblem('acme-corp'), null);
    assert.notEqual(slugProblem('-acme'), null);
    assert.notEqual(slugProblem('Acme'), null);
    assert.equal(suggestProjectKey('Apollo 11'), 'APOLLO11');
    assert.equal(suggestProjectKey('11 Apollo mission'), 'APOLLOMISS');
    assert.equal(suggestProjectKey('x'), '');
    assert.equal(projectKeyProblem('APOLLO'), null);
    assert.notEqual(projectKeyProblem('apollo'), null);
    assert.notEqual(projectKeyProblem('A'), null);
    assert.notEqual(projectKeyProblem('1AB'), null);
  });
});

describe('words', () => {
  it('counts results', () => {
    assert.equal(resultCount(0), 'No one found.');
    assert.equal(resultCount(1), '1 person found.');
    assert.equal(resultCount(20, true), '20 or more people found.');
  });

  it('says when', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    assert.equal(relativeTime('2025-01-04T00:00:00Z', now), 'in 3 days');
    assert.equal(relativeTime('2025-01-01T05:00:00Z', now), 'in 5 hours');
    assert.equal(relativeTime('2024-12-30T00:00:00Z', now), '2 days ago');
  });

  it('adds a hint for the answers a person can act on', () => {
    assert.match(errorHint('issue_link_required', 400, 'APOLLO') ?? '', /APOLLO-12/);
    assert.match(errorHint('forbidden', 403) ?? '', /not allowed/);
    assert.match(errorHint('not_found', 404) ?? '', /not visible/);
    assert.equal(errorHint('conflict', 409), null);
  });

  it('orders invitations and splits links', () => {
    const inv = (id: string, state: Invitation['state'], createdAt: string): Invitation => ({
      id,
      projectId: 'p',
      role: 'member',
      email: 'a@b.example',
      domain: null,
      createdBy: 'x',
      createdAt,
      expiresAt: createdAt,
      state,
      usedBy: null,
    });
    assert.deepEqual(
      sortInvitations([
        inv('a', 'used', '2025-01-03'),
        inv('b', 'open', '2025-01-01'),
        inv('c', 'open', '2025-01-02'),
      ]).map((i) => i.id),
      ['c', 'b', 'a'],
    );
    const { outgoing, incoming } = splitLinks(
      [
        link({ id: 'out-ended', status: 'ended' }),
        link({ id: 'out', createdAt: '2024-01-01T00:00:00Z' }),
        link({ id: 'in', hostOrgId: GLOBEX, partnerOrgId: ACME }),
      ],
      ACME,
    );
    assert.deepEqual(
      outgoing.map((l) => l.id),
      ['out', 'out-ended'],
    );
    assert.deepEqual(
      incoming.map((l) => l.id),
      ['in'],
    );
  });
});
