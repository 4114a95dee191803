import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';
import { effectivePolicy } from './effective.ts';
import { evaluateSession } from './evaluate.ts';
import type { SessionMethod } from './policy.ts';
import { PolicyStore } from './policy-store.ts';

export type LoginGate = (
  userId: string,
  session: { methods: SessionMethod[]; passkeyAaguid: string | null },
  now: Date,
) => Promise<void>;

/**
 * Refuses, before a session exists, a sign-in the person's org policy does
 * not allow (a method it excludes, a non-passkey sign-in where passkeys are
 * required, an authenticator model outside its list). The network address
 * is checked on every request instead, where the guard sees it.
 */
export function policyLoginGate(storage: Storage): LoginGate {
  return async (userId, session, now) => {
    const user = await storage.db
      .selectFrom('users')
      .select(['org_id', 'org_role'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user?.org_id) return;
    const home = effectivePolicy(await new PolicyStore(storage).orgPolicy(user.org_id), null);
    const rules = user.org_role === 'guest' ? home.external : home.internal;
    const verdict = evaluateSession(
      { ...rules, sourceCidrs: [] },
      { ...session, createdAt: now, lastSeenAt: now, source: '' },
      now,
      'org',
    );
    if (!verdict.ok) throw new BulwarkError('method_not_allowed_by_policy', verdict.message);
  };
}
