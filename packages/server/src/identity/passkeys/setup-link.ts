import { BulwarkError } from '../../errors.ts';
import type { IdentityContext } from '../context.ts';

/** A setup link is good for this long (issue: 30 minutes). */
export const SETUP_LINK_TTL_MS = 30 * 60_000;

export interface SetupLink {
  /** `https://<rp id>:<port>/setup#<token>`: in the fragment, the token never reaches a log or a Referer. */
  setupUrl: string;
  expiresAt: string;
}

/**
 * Issues the one-time link with which the first administrator registers
 * their passkey. Refused once an administrator exists: from then on admins
 * invite people, and nobody holding an old link can mint a second admin.
 */
export async function issueSetupLink(identity: IdentityContext): Promise<SetupLink> {
  if (await identity.passkeys.adminExists()) {
    throw new BulwarkError(
      'forbidden',
      'An administrator exists already; setup links are only for the first one.',
    );
  }
  const issued = await identity.challenges.issue('setup-link', {
    data: { purpose: 'first-admin' },
    ttlMs: SETUP_LINK_TTL_MS,
  });
  const origin = identity.relyingParty.origins[0] ?? `https://${identity.relyingParty.id}`;
  return { setupUrl: `${origin}/setup#${issued.id}`, expiresAt: issued.expiresAt.toISOString() };
}
