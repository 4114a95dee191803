import { BlockList, isIP } from 'node:net';
import {
  type AudienceRules,
  completesSignIn,
  type EffectiveAudienceRules,
  type PolicyMethod,
  parseCidr,
  type SessionMethod,
} from './policy.ts';

/** What evaluateSession needs to know about a session. */
export interface SessionFacts {
  methods: SessionMethod[];
  /** The AAGUID of the passkey the session was opened with, when known. */
  passkeyAaguid: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  /** The client's address as the socket reports it (IPv4, IPv6 or IPv4-mapped IPv6). */
  source: string;
}

/** Whose rules these are: only changes the wording of messages. */
export type PolicyScope = 'org' | 'project';

export type SessionVerdict =
  | { ok: true }
  | { ok: false; rule: keyof AudienceRules; expired: boolean; message: string };

const methodNames: Record<Exclude<SessionMethod, 'setup-link'>, string> = {
  passkey: 'a passkey',
  totp: 'an authenticator app code',
  'recovery-code': 'a recovery code',
  sms: 'an SMS code',
  password: 'a password',
  ldap: 'a directory (LDAP) password',
  oidc: 'single sign-on (OIDC)',
};

/**
 * Whether a live session still satisfies the rules. Called on requests, so
 * that a tightened policy takes effect on existing sessions and not only at
 * the next sign-in.
 */
export function evaluateSession(
  rules: EffectiveAudienceRules,
  session: SessionFacts,
  now: Date,
  scope: PolicyScope,
): SessionVerdict {
  const who = scope === 'org' ? 'Your organisation' : 'This project';
  // Lifetimes first: an expired session is over whatever else the policy
  // says, and "sign in again" is the accurate thing to tell its owner.
  const lifetime = lifetimeVerdict(rules, session, now, who);
  if (lifetime !== null) return lifetime;

  const refuse = (rule: keyof AudienceRules, message: string): SessionVerdict => ({
    ok: false,
    rule,
    expired: false,
    message,
  });
  if (!sourceAllowed(rules.sourceCidrs, session.source)) {
    return refuse('sourceCidrs', `${who} does not allow access from your network address.`);
  }
  // A setup link ends in registering a passkey: the session is a passkey session.
  const methods = session.methods.map((m) => (m === 'setup-link' ? 'passkey' : m));
  if (methods.length === 0) {
    // The identity layer never makes one; if it did, it proves nothing.
    return refuse('authMethods', 'Please sign in again.');
  }
  // Checked before the method list so that a password-and-code session is
  // told what it now needs, not merely which of its factors is out.
  if (
    rules.phishingResistantMfa &&
    (!methods.includes('passkey') || methods.includes('recovery-code'))
  ) {
    return refuse(
      'phishingResistantMfa',
      `${who} now requires a security key or passkey to sign in.`,
    );
  }
  for (const method of methods) {
    // A recovery code stands in for a lost second factor; it is no policy
    // method of its own, and phishing-resistant rules were handled above.
    if (method === 'recovery-code' || rules.authMethods.includes(method)) continue;
    return refuse('authMethods', `${who} no longer allows signing in with ${methodNames[method]}.`);
  }
  if (methods.includes('passkey') && !aaguidAllowed(rules.allowedAaguids, session.passkeyAaguid)) {
    return refuse(
      'allowedAaguids',
      `${who} now allows only certain security keys or passkeys, and the one you signed in with is not one of them.`,
    );
  }
  return { ok: true };
}

function lifetimeVerdict(
  rules: EffectiveAudienceRules,
  session: SessionFacts,
  now: Date,
  who: string,
): SessionVerdict | null {
  const expire = (rule: keyof AudienceRules, message: string): SessionVerdict => ({
    ok: false,
    rule,
    expired: true,
    message,
  });
  // Written as !(age <= limit) so that an invalid date (NaN) expires the
  // session instead of making every comparison false and keeping it alive.
  const idle = now.getTime() - session.lastSeenAt.getTime();
  if (!(idle <= rules.sessionIdleMinutes * 60_000)) {
    return expire(
      'sessionIdleMinutes',
      `${who} signs you out after ${count(rules.sessionIdleMinutes, 'minute')} without activity. Please sign in again.`,
    );
  }
  const age = now.getTime() - session.createdAt.getTime();
  if (!(age <= rules.sessionAbsoluteHours * 3_600_000)) {
    return expire(
      'sessionAbsoluteHours',
      `${who} requires you to sign in again every ${count(rules.sessionAbsoluteHours, 'hour')}.`,
    );
  }
  return null;
}

function count(n: number, unit: string): string {
  return n === 1 ? `1 ${unit}` : `${n} ${unit}s`;
}

function aaguidAllowed(allowed: readonly string[] | null, aaguid: string | null): boolean {
  if (allowed === null) return true;
  // An unknown authenticator cannot be shown to be one of the allowed models.
  return aaguid !== null && allowed.includes(aaguid.toLowerCase());
}

/**
 * Whether `source` is inside every list. Matching is BlockList's, which
 * treats ::ffff:a.b.c.d as a.b.c.d (dual-stack sockets report IPv4 clients
 * that way). A source that is not an address is inside nothing.
 */
export function sourceAllowed(lists: readonly (readonly string[])[], source: string): boolean {
  if (lists.length === 0) return true;
  // A zone id (fe80::1%eth0) names the interface; the address is what ranges describe.
  const address = source.split('%')[0] ?? '';
  const family = isIP(address);
  if (family === 0) return false;
  return lists.every((list) => blockListOf(list).check(address, family === 4 ? 'ipv4' : 'ipv6'));
}

function blockListOf(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of ranges) {
    // Going through parseCidr accepts any spelling a caller may hold (a bare
    // address, upper-case hex); a range that does not parse matches nothing.
    const range = parseCidr(text);
    if ('error' in range) continue;
    const [address = '', prefix] = range.text.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

export interface PersonCredentials {
  /** The credentials the person has set up. */
  methods: PolicyMethod[];
  passkeyAaguids: string[];
}

export type SatisfyVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Could this person still sign in under these rules? The API asks this for
 * every admin before accepting a policy and refuses one that would leave no
 * admin able to sign in to fix it. `source` (the admin's current address,
 * when known) must also be allowed: a range list that excludes the admin's
 * own network locks them out just as surely.
 */
export function canSatisfy(
  rules: EffectiveAudienceRules,
  person: PersonCredentials,
  source: string | null,
): SatisfyVerdict {
  if (source !== null && !sourceAllowed(rules.sourceCidrs, source)) {
    return { ok: false, reason: `The network address ${source} is outside the allowed ranges.` };
  }
  const passkeyUsable =
    rules.allowedAaguids === null ||
    person.passkeyAaguids.some((a) => aaguidAllowed(rules.allowedAaguids, a));
  const usable = rules.authMethods.filter(
    (m) => person.methods.includes(m) && (m !== 'passkey' || passkeyUsable),
  );
  if (completesSignIn(usable, rules.phishingResistantMfa)) return { ok: true };
  return { ok: false, reason: lockOutReason(rules, person) };
}

function lockOutReason(rules: EffectiveAudienceRules, person: PersonCredentials): string {
  const hasPasskey = person.methods.includes('passkey');
  if (rules.phishingResistantMfa && !rules.authMethods.includes('passkey')) {
    return 'Phishing-resistant MFA is required, but passkeys are not an allowed method.';
  }
  if (hasPasskey && rules.authMethods.includes('passkey') && rules.allowedAaguids !== null) {
    return 'None of their passkeys is an allowed authenticator model.';
  }
  if (rules.phishingResistantMfa) {
    return 'Phishing-resistant MFA requires a passkey, and they have none.';
  }
  return `None of their credentials (${person.methods.join(', ') || 'none'}) makes a complete sign-in with the allowed methods (${rules.authMethods.join(', ')}).`;
}
