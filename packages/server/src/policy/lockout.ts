import type { Storage } from '../storage/storage.ts';
import { canSatisfy } from './evaluate.ts';
import type { EffectiveAudienceRules, PolicyMethod } from './policy.ts';

/** The sign-in credentials a person holds, as the lock-out check sees them. */
export async function credentialsOf(
  storage: Storage,
  userId: string,
): Promise<{ methods: PolicyMethod[]; passkeyAaguids: string[] }> {
  const db = storage.db;
  const [passkeys, totp, sms, password, ldap, oidc] = await Promise.all([
    db.selectFrom('passkeys').select('aaguid').where('user_id', '=', userId).execute(),
    db
      .selectFrom('totp_secrets')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('confirmed_at', 'is not', null)
      .executeTakeFirst(),
    db
      .selectFrom('sms_numbers')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('confirmed_at', 'is not', null)
      .executeTakeFirst(),
    db
      .selectFrom('password_credentials')
      .select('user_id')
      .where('user_id', '=', userId)
      .executeTakeFirst(),
    db
      .selectFrom('external_identities')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('removed_at', 'is', null)
      .executeTakeFirst(),
    db
      .selectFrom('oidc_identities')
      .select('user_id')
      .where('user_id', '=', userId)
      .executeTakeFirst(),
  ]);
  const methods: PolicyMethod[] = [];
  if (passkeys.length > 0) methods.push('passkey');
  if (totp) methods.push('totp');
  if (sms) methods.push('sms');
  if (password) methods.push('password');
  if (ldap) methods.push('ldap');
  if (oidc) methods.push('oidc');
  return { methods, passkeyAaguids: passkeys.map((p) => p.aaguid.toLowerCase()) };
}

/**
 * Refuses a policy under which the acting administrator, or every
 * administrator, could no longer sign in. The acting admin is checked with
 * the address they are using now (an allow-list that excludes it would cut
 * them off mid-change); the others' addresses are unknown, so only their
 * credentials count. Returns the reason, or null when the policy is safe.
 */
export async function lockOutReason(
  storage: Storage,
  rules: EffectiveAudienceRules,
  admins: readonly string[],
  acting: { userId: string; source: string },
): Promise<string | null> {
  if (admins.length === 0) return null;
  // Whoever makes the change must keep their own way in: cutting oneself off mid-change is never meant.
  if (admins.includes(acting.userId)) {
    const own = canSatisfy(rules, await credentialsOf(storage, acting.userId), acting.source);
    if (!own.ok) return `you would lock yourself out (${own.reason})`;
  }
  const reasons: string[] = [];
  for (const userId of admins) {
    const creds = await credentialsOf(storage, userId);
    const verdict = canSatisfy(rules, creds, userId === acting.userId ? acting.source : null);
    if (verdict.ok) return null;
    reasons.push(verdict.reason);
  }
  return `no administrator could sign in under it (${[...new Set(reasons)].join('; ')})`;
}
