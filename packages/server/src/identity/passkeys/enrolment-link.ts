import type { ChallengeStore } from '../challenges/challenge-store.ts';
import type { RelyingParty } from '../context.ts';

/** Long enough to reach someone by mail over a weekend; single use either way. */
export const ENROLMENT_LINK_TTL_MS = 72 * 3600_000;

export interface EnrolmentLink {
  /** `https://<host>/enrol#<token>`: in the fragment, the token never reaches a log or a Referer. */
  enrolUrl: string;
  expiresAt: string;
}

/**
 * A one-time link with which a user an admin created (or reset) registers a
 * passkey. There is no default password: the link is the only way in.
 */
export async function issueEnrolmentLink(
  identity: { challenges: ChallengeStore; relyingParty: RelyingParty },
  userId: string,
): Promise<EnrolmentLink> {
  const issued = await identity.challenges.issue('enrolment-link', {
    userId,
    data: { purpose: 'enrol' },
    ttlMs: ENROLMENT_LINK_TTL_MS,
  });
  const origin = identity.relyingParty.origins[0] ?? `https://${identity.relyingParty.id}`;
  return { enrolUrl: `${origin}/enrol#${issued.id}`, expiresAt: issued.expiresAt.toISOString() };
}
