import type { AuditActor } from '../../audit/ledger/entry.ts';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { IdentityContext } from '../context.ts';
import { changeWithAudit } from '../transactional.ts';

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
 * The link and its ledger entry (`user.setup-link`) commit together; the
 * entry holds neither the token nor anything derived from it.
 */
export async function issueSetupLink(
  identity: IdentityContext,
  ledger: AuditLedger,
  actor: AuditActor,
): Promise<SetupLink> {
  const issued = await changeWithAudit(identity, ledger, async (tx) => {
    if (await tx.passkeys.adminExists()) {
      throw new BulwarkError(
        'forbidden',
        'An administrator exists already; setup links are only for the first one.',
      );
    }
    const challenge = await tx.challenges.issue('setup-link', {
      data: { purpose: 'first-admin' },
      ttlMs: SETUP_LINK_TTL_MS,
    });
    await tx.record({
      action: 'user.setup-link',
      actor,
      // For the first administrator, who has no account (and so no id) yet.
      target: { type: 'user', id: null },
      after: { purpose: 'first-admin', expiresAt: challenge.expiresAt.toISOString() },
    });
    return challenge;
  });
  const origin = identity.relyingParty.origins[0] ?? `https://${identity.relyingParty.id}`;
  return { setupUrl: `${origin}/setup#${issued.id}`, expiresAt: issued.expiresAt.toISOString() };
}
