import { z } from 'zod';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf } from '../../identity/actor.ts';
import { ChallengeStore } from '../../identity/challenges/challenge-store.ts';
import { issueEnrolmentLink } from '../../identity/passkeys/enrolment-link.ts';
import { type User, UserStore } from '../../identity/user-store.ts';
import { roleRank } from '../../policy/actions.ts';
import type { Storage } from '../../storage/storage.ts';
import { domainOf, type Invitation, InvitationStore } from '../invitations.ts';
import { PartnerLinkStore } from '../partner-links.ts';
import { MemberStore, ProjectStore } from '../projects.ts';
import { type DirectoryDeps, directoryChange } from '../transaction.ts';
import { authzOf, displayText } from './shared.ts';

const tokenBody = z.object({ token: z.string().min(1).max(200) }).strict();
const guestBody = z
  .object({
    token: z.string().min(1).max(200),
    displayName: displayText(100),
    username: z
      .string()
      .min(2)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  })
  .strict();

/** Partner links by id, and invitations: revoke, accept, accept as a new guest. */
export function registerLinkRoutes(deps: DirectoryDeps) {
  const now = () => deps.identity().clock.now();

  /**
   * How an accepting person joins: people of the project's org and guests
   * directly; people of another org only through that org's active partner
   * link (their admins decide who joins), capped at the link's role.
   */
  const joinPlan = async (s: Storage, invitation: Invitation, user: User) => {
    const project = await new ProjectStore(s).get(invitation.projectId);
    if (!project) throw new BulwarkError('link_invalid', 'This invitation’s project is gone.');
    if (user.orgId === project.orgId || user.orgRole === 'guest') {
      return { viaLinkId: null, role: invitation.role, orgId: project.orgId };
    }
    const link = user.orgId ? await new PartnerLinkStore(s).live(project.id, user.orgId) : null;
    if (link?.status !== 'active') {
      throw new BulwarkError(
        'forbidden',
        'Your org has no active partner link to this project; ask your org’s admins to accept one.',
      );
    }
    const role =
      roleRank[invitation.role] > roleRank[link.maxRole] ? link.maxRole : invitation.role;
    return { viaLinkId: link.id, role, orgId: project.orgId };
  };

  return (app: App): void => {
    app.post(
      '/v1/partner-links/:linkId/accept',
      { config: { action: 'partner-link.accept' } },
      async (req) => {
        const link = authzOf(req).scope.link;
        if (!link) throw new BulwarkError('not_found', 'No such partner link.');
        return directoryChange(deps, req, async (tx) => {
          const links = new PartnerLinkStore(tx.storage);
          if (!(await links.accept(link.id, actorOf(req).userId, now()))) {
            throw new BulwarkError('conflict', `This partner link is ${link.status}, not pending.`);
          }
          const after = await links.get(link.id);
          await tx.record({
            action: 'partner-link.accept',
            target: { type: 'partner-link', id: link.id },
            after,
          });
          return { link: after };
        });
      },
    );

    app.delete(
      '/v1/partner-links/:linkId',
      { config: { action: 'partner-link.end' } },
      async (req) => {
        const link = authzOf(req).scope.link;
        if (!link) throw new BulwarkError('not_found', 'No such partner link.');
        const ended = await directoryChange(deps, req, async (tx) => {
          if (!(await new PartnerLinkStore(tx.storage).end(link.id, actorOf(req).userId, now()))) {
            throw new BulwarkError('conflict', 'This partner link has ended already.');
          }
          // The partner's people leave at once: their next request for the project is refused.
          const removed = await new MemberStore(tx.storage).removeVia(link.id);
          await tx.record({
            action: 'partner-link.end',
            target: { type: 'partner-link', id: link.id },
            after: { status: 'ended', removedMembers: removed },
          });
          return { link: { ...link, status: 'ended' }, removedMembers: removed.length };
        });
        // Their live subscriptions and their devices in the project's conversations go now too.
        await deps.publish?.(
          authzOf(req).scope.projectId as string,
          { type: 'member.changed', link: link.id },
          { accessChanged: true },
        );
        return ended;
      },
    );

    app.delete(
      '/v1/invitations/:invitationId',
      { config: { action: 'invitation.revoke' } },
      async (req, reply) => {
        const id = authzOf(req).scope.id as string;
        await directoryChange(deps, req, async (tx) => {
          const store = new InvitationStore(tx.storage, deps.identity().hasher);
          if (!(await store.revoke(id, now()))) {
            throw new BulwarkError('conflict', 'This invitation was used or revoked already.');
          }
          await tx.record({ action: 'invitation.revoke', target: { type: 'invitation', id } });
        });
        return reply.status(204).send();
      },
    );

    app.post('/v1/invitations/accept', { config: { action: 'invitation.accept' } }, async (req) => {
      const { token } = tokenBody.parse(req.body);
      const actor = actorOf(req);
      return directoryChange(deps, req, async (tx) => {
        const store = new InvitationStore(tx.storage, deps.identity().hasher);
        const invitation = await store.byToken(token, now());
        if (!invitation) throw new BulwarkError('link_invalid');
        if (invitation.state !== 'open') {
          throw new BulwarkError('link_invalid', `This invitation is ${invitation.state}.`);
        }
        const user = await new UserStore(tx.storage).get(actor.userId);
        if (!user) throw new BulwarkError('unauthenticated');
        const email = user.email?.toLowerCase() ?? null;
        if (invitation.email !== null && invitation.email !== email) {
          throw new BulwarkError(
            'forbidden',
            'This invitation is for another e-mail address than your account’s.',
          );
        }
        if (
          invitation.domain !== null &&
          (email === null || domainOf(email) !== invitation.domain)
        ) {
          throw new BulwarkError(
            'forbidden',
            `This invitation is for addresses at ${invitation.domain}; your account’s is not.`,
          );
        }
        const members = new MemberStore(tx.storage);
        if (await members.get(invitation.projectId, user.id)) {
          throw new BulwarkError('conflict', 'You are a member of this project already.');
        }
        const { orgId, ...plan } = await joinPlan(tx.storage, invitation, user);
        await store.consume(invitation, user.id, now());
        await members.put(
          { projectId: invitation.projectId, userId: user.id, ...plan },
          invitation.createdBy,
          now(),
        );
        await tx.record({
          action: 'invitation.accept',
          target: { type: 'invitation', id: invitation.id },
          after: { projectId: invitation.projectId, userId: user.id, ...plan },
          scope: { orgId, projectId: invitation.projectId },
        });
        return { projectId: invitation.projectId, role: plan.role };
      });
    });

    app.post(
      '/v1/invitations/accept-as-guest',
      { config: { action: 'invitation.accept-as-guest' } },
      async (req, reply) => {
        const body = guestBody.parse(req.body);
        const identity = deps.identity();
        const made = await directoryChange(deps, req, async (tx) => {
          const store = new InvitationStore(tx.storage, identity.hasher);
          const invitation = await store.byToken(body.token, now());
          if (invitation?.state !== 'open') {
            throw new BulwarkError('link_invalid');
          }
          if (invitation.email === null) {
            throw new BulwarkError(
              'bad_request',
              'A domain invitation is for people with an account already: log in and accept it.',
            );
          }
          const users = new UserStore(tx.storage);
          if (await users.findByEmail(invitation.email)) {
            throw new BulwarkError(
              'conflict',
              'An account with this address exists: log in and accept the invitation.',
            );
          }
          if (await users.findByUsername(body.username)) {
            throw new BulwarkError('conflict', `The username ${body.username} is taken.`);
          }
          const project = await new ProjectStore(tx.storage).get(invitation.projectId);
          if (!project) throw new BulwarkError('link_invalid');
          const guest = await users.create(
            {
              displayName: body.displayName,
              username: body.username,
              email: invitation.email,
              orgId: project.orgId,
              orgRole: 'guest',
            },
            now(),
          );
          await store.consume(invitation, guest.id, now());
          await new MemberStore(tx.storage).put(
            { projectId: project.id, userId: guest.id, role: invitation.role, viaLinkId: null },
            invitation.createdBy,
            now(),
          );
          const link = await issueEnrolmentLink(
            {
              challenges: new ChallengeStore({
                storage: tx.storage,
                hasher: identity.hasher,
                clock: identity.clock,
              }),
              relyingParty: identity.relyingParty,
            },
            guest.id,
          );
          // No session yet: the ledger names the new guest in the entry, the request's address as the source.
          await tx.record({
            action: 'invitation.accept',
            target: { type: 'invitation', id: invitation.id },
            after: { projectId: project.id, userId: guest.id, guest: true },
            scope: { orgId: project.orgId, projectId: project.id },
          });
          return { userId: guest.id, projectId: project.id, ...link };
        });
        return reply.status(201).send(made);
      },
    );
  };
}
