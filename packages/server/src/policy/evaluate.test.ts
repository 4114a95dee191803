import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePolicy } from './effective.ts';
import {
  canSatisfy,
  evaluateSession,
  type PersonCredentials,
  type SessionFacts,
  type SessionVerdict,
  sourceAllowed,
} from './evaluate.ts';
import { defaultOrgPolicy, type EffectiveAudienceRules } from './policy.ts';

const keyA = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const keyB = 'ee882879-721c-4913-9775-3dfcce97072a';

const now = new Date('2025-06-01T12:00:00Z');
const minutes = (n: number) => n * 60_000;
const ago = (ms: number) => new Date(now.getTime() - ms);

/** The default internal rules with some changed. */
function rules(changes: Partial<EffectiveAudienceRules> = {}): EffectiveAudienceRules {
  return { ...effectivePolicy(defaultOrgPolicy, null).internal, ...changes };
}

function session(changes: Partial<SessionFacts> = {}): SessionFacts {
  return {
    methods: ['passkey'],
    passkeyAaguid: keyA,
    createdAt: ago(minutes(60)),
    lastSeenAt: ago(minutes(1)),
    source: '192.0.2.10',
    ...changes,
  };
}

function refused(verdict: SessionVerdict): Exclude<SessionVerdict, { ok: true }> {
  if (verdict.ok) assert.fail('expected the session to be refused');
  return verdict;
}

describe('evaluateSession', () => {
  it('accepts a fresh passkey session under the defaults', () => {
    assert.deepEqual(evaluateSession(rules(), session(), now, 'org'), { ok: true });
    const passwordAndCode = session({ methods: ['password', 'totp'], passkeyAaguid: null });
    assert.deepEqual(evaluateSession(rules(), passwordAndCode, now, 'project'), { ok: true });
  });

  describe('lifetimes', () => {
    it('expires a session idle for longer than the limit, not at it', () => {
      const atLimit = session({ lastSeenAt: ago(minutes(30)) });
      assert.deepEqual(evaluateSession(rules(), atLimit, now, 'org'), { ok: true });
      const past = session({ lastSeenAt: ago(minutes(30) + 1) });
      assert.deepEqual(evaluateSession(rules(), past, now, 'project'), {
        ok: false,
        rule: 'sessionIdleMinutes',
        expired: true,
        message:
          'This project signs you out after 30 minutes without activity. Please sign in again.',
      });
    });

    it('expires a session older than the absolute lifetime, not at it', () => {
      const atLimit = session({ createdAt: ago(minutes(12 * 60)) });
      assert.deepEqual(evaluateSession(rules(), atLimit, now, 'org'), { ok: true });
      const past = session({ createdAt: ago(minutes(12 * 60) + 1) });
      assert.deepEqual(evaluateSession(rules({ sessionAbsoluteHours: 1 }), past, now, 'org'), {
        ok: false,
        rule: 'sessionAbsoluteHours',
        expired: true,
        message: 'Your organisation requires you to sign in again every 1 hour.',
      });
    });

    it('expires a session with an invalid date rather than keeping it forever', () => {
      const broken = [
        session({ lastSeenAt: new Date(Number.NaN) }),
        session({ createdAt: new Date('not a date') }),
      ];
      for (const s of broken)
        assert.equal(refused(evaluateSession(rules(), s, now, 'org')).expired, true);
      assert.equal(
        refused(evaluateSession(rules(), session(), new Date(Number.NaN), 'org')).expired,
        true,
      );
    });

    it('does not expire a session seen "in the future" (clock skew between nodes)', () => {
      assert.deepEqual(
        evaluateSession(
          rules(),
          session({ lastSeenAt: new Date(now.getTime() + 5000) }),
          now,
          'org',
        ),
        { ok: true },
      );
    });

    it('reports expiry before any other failure: the session is over either way', () => {
      const everythingWrong = session({
        methods: ['sms'],
        source: '203.0.113.1',
        lastSeenAt: ago(minutes(31)),
      });
      const strict = rules({ phishingResistantMfa: true, sourceCidrs: [['10.0.0.0/8']] });
      assert.equal(
        refused(evaluateSession(strict, everythingWrong, now, 'org')).rule,
        'sessionIdleMinutes',
      );
    });
  });

  describe('methods', () => {
    it('refuses a factor the rules no longer allow, naming it', () => {
      const verdict = evaluateSession(
        rules(),
        session({ methods: ['password', 'sms'] }),
        now,
        'project',
      );
      assert.deepEqual(verdict, {
        ok: false,
        rule: 'authMethods',
        expired: false,
        message: 'This project no longer allows signing in with an SMS code.',
      });
      const noPasswords = rules({ authMethods: ['passkey', 'totp'] });
      const message = refused(
        evaluateSession(noPasswords, session({ methods: ['password', 'totp'] }), now, 'org'),
      ).message;
      assert.equal(message, 'Your organisation no longer allows signing in with a password.');
    });

    it('counts a setup link as a passkey', () => {
      const setup = session({ methods: ['setup-link'] });
      assert.deepEqual(evaluateSession(rules({ phishingResistantMfa: true }), setup, now, 'org'), {
        ok: true,
      });
      const noPasskeys = rules({ authMethods: ['password', 'totp'] });
      assert.equal(
        refused(evaluateSession(noPasskeys, setup, now, 'org')).message,
        'Your organisation no longer allows signing in with a passkey.',
      );
      const listed = rules({ allowedAaguids: [keyB] });
      assert.equal(refused(evaluateSession(listed, setup, now, 'org')).rule, 'allowedAaguids');
    });

    it('accepts a recovery code in place of a second factor only without phishing-resistant MFA', () => {
      const recovered = session({ methods: ['password', 'recovery-code'], passkeyAaguid: null });
      assert.deepEqual(evaluateSession(rules(), recovered, now, 'org'), { ok: true });
      const verdict = evaluateSession(
        rules({ phishingResistantMfa: true }),
        recovered,
        now,
        'project',
      );
      assert.equal(refused(verdict).rule, 'phishingResistantMfa');
      // Even next to a passkey: the rule is that only passkeys count.
      const mixed = session({ methods: ['passkey', 'recovery-code'] });
      assert.equal(
        refused(evaluateSession(rules({ phishingResistantMfa: true }), mixed, now, 'org')).rule,
        'phishingResistantMfa',
      );
    });

    it('refuses a session that records no method at all', () => {
      assert.equal(
        refused(evaluateSession(rules(), session({ methods: [] }), now, 'org')).rule,
        'authMethods',
      );
    });
  });

  describe('phishing-resistant MFA', () => {
    const strict = rules({ phishingResistantMfa: true });

    it('refuses non-passkey sessions, telling them what is now needed', () => {
      for (const methods of [
        ['password', 'totp'],
        ['ldap'],
        ['oidc'],
        ['password', 'sms'],
      ] as const) {
        const s = session({ methods: [...methods], passkeyAaguid: null });
        assert.deepEqual(evaluateSession(strict, s, now, 'project'), {
          ok: false,
          rule: 'phishingResistantMfa',
          expired: false,
          message: 'This project now requires a security key or passkey to sign in.',
        });
      }
      const org = refused(evaluateSession(strict, session({ methods: ['ldap'] }), now, 'org'));
      assert.equal(
        org.message,
        'Your organisation now requires a security key or passkey to sign in.',
      );
    });

    it('accepts passkey sessions', () => {
      assert.deepEqual(evaluateSession(strict, session(), now, 'org'), { ok: true });
      assert.deepEqual(
        evaluateSession(strict, session({ methods: ['passkey', 'totp'] }), now, 'org'),
        { ok: true },
      );
    });
  });

  describe('allowed authenticators', () => {
    const listed = rules({ allowedAaguids: [keyA] });

    it('accepts a listed authenticator, whatever the case of its AAGUID', () => {
      assert.deepEqual(
        evaluateSession(listed, session({ passkeyAaguid: keyA.toUpperCase() }), now, 'org'),
        { ok: true },
      );
    });

    it('refuses an unlisted or unknown authenticator', () => {
      for (const passkeyAaguid of [keyB, null, '']) {
        assert.deepEqual(evaluateSession(listed, session({ passkeyAaguid }), now, 'project'), {
          ok: false,
          rule: 'allowedAaguids',
          expired: false,
          message:
            'This project now allows only certain security keys or passkeys, and the one you signed in with is not one of them.',
        });
      }
    });

    it('does not apply to sessions without a passkey', () => {
      const other = session({ methods: ['password', 'totp'], passkeyAaguid: null });
      assert.deepEqual(evaluateSession(listed, other, now, 'org'), { ok: true });
    });

    it('lets no passkey through when the lists did not overlap', () => {
      assert.equal(
        refused(evaluateSession(rules({ allowedAaguids: [] }), session(), now, 'org')).rule,
        'allowedAaguids',
      );
    });
  });

  describe('source address', () => {
    it('needs the address inside every list', () => {
      const two = rules({ sourceCidrs: [['10.0.0.0/8', '2001:db8::/32'], ['10.1.0.0/16']] });
      assert.deepEqual(evaluateSession(two, session({ source: '10.1.2.3' }), now, 'org'), {
        ok: true,
      });
      assert.deepEqual(evaluateSession(two, session({ source: '10.2.0.1' }), now, 'project'), {
        ok: false,
        rule: 'sourceCidrs',
        expired: false,
        message: 'This project does not allow access from your network address.',
      });
      assert.equal(
        refused(evaluateSession(two, session({ source: '2001:db8::1' }), now, 'org')).message,
        'Your organisation does not allow access from your network address.',
      );
    });

    const cases: Array<[string[][], string, boolean]> = [
      [[], '203.0.113.1', true],
      [[], 'not an address', true],
      [[['127.0.0.0/8']], '::ffff:127.0.0.1', true],
      [[['127.0.0.0/8']], '::FFFF:7f00:1', true],
      [[['10.0.0.0/8']], '::ffff:11.0.0.1', false],
      [[['10.0.0.0/8']], '::10.0.0.1', false],
      [[['::ffff:0:0/96']], '192.0.2.1', true],
      [[['0.0.0.0/0']], '2001:db8::1', false],
      [[['::/0']], '192.0.2.1', true],
      [[['2001:db8::/32']], '2001:DB8:0::42', true],
      [[['2001:db8::/32']], '2001:db9::1', false],
      [[['2001:db8::/32']], '192.0.2.1', false],
      [[['fe80::/10']], 'fe80::1%eth0', true],
      [[['192.0.2.7/32']], '192.0.2.7', true],
      [[['192.0.2.7/32']], '192.0.2.8', false],
      // Spellings a caller may hold without going through the schema.
      [[['192.0.2.7']], '192.0.2.7', true],
      [[['2001:DB8::/32']], '2001:db8::1', true],
      // Nothing unparseable slips through a list.
      [[['0.0.0.0/0', '::/0']], '', false],
      [[['0.0.0.0/0', '::/0']], 'localhost', false],
      [[['0.0.0.0/0', '::/0']], '10.0.0.1:443', false],
      [[['garbage']], '10.0.0.1', false],
    ];
    for (const [lists, source, expected] of cases) {
      it(`${JSON.stringify(source)} in ${JSON.stringify(lists)}: ${expected}`, () => {
        assert.equal(sourceAllowed(lists, source), expected);
        const verdict = evaluateSession(
          rules({ sourceCidrs: lists }),
          session({ source }),
          now,
          'org',
        );
        assert.equal(verdict.ok, expected);
      });
    }
  });
});

describe('canSatisfy', () => {
  const person = (
    methods: PersonCredentials['methods'],
    passkeyAaguids: string[] = [],
  ): PersonCredentials => ({
    methods,
    passkeyAaguids,
  });

  const ok: Array<[string, Partial<EffectiveAudienceRules>, PersonCredentials]> = [
    ['a passkey', {}, person(['passkey'], [keyA])],
    ['a passkey of unknown model when any is allowed', {}, person(['passkey'])],
    [
      'a listed passkey',
      { allowedAaguids: [keyA], phishingResistantMfa: true },
      person(['passkey', 'password'], [keyB, keyA]),
    ],
    ['LDAP alone', {}, person(['ldap'])],
    ['OIDC alone', {}, person(['oidc'])],
    ['a password and TOTP', {}, person(['password', 'totp'])],
    [
      'a password and SMS where SMS is allowed',
      { authMethods: ['password', 'sms'] },
      person(['password', 'sms']),
    ],
  ];
  for (const [name, changes, who] of ok) {
    it(`lets in someone with ${name}`, () => {
      assert.deepEqual(canSatisfy(rules(changes), who, null), { ok: true });
    });
  }

  const locked: Array<[string, Partial<EffectiveAudienceRules>, PersonCredentials, string]> = [
    [
      'only a password',
      {},
      person(['password']),
      'None of their credentials (password) makes a complete sign-in with the allowed methods (passkey, totp, password, ldap, oidc).',
    ],
    [
      'a password and SMS where SMS is not allowed',
      {},
      person(['password', 'sms']),
      'None of their credentials (password, sms) makes a complete sign-in with the allowed methods (passkey, totp, password, ldap, oidc).',
    ],
    [
      'nothing at all',
      {},
      person([]),
      'None of their credentials (none) makes a complete sign-in with the allowed methods (passkey, totp, password, ldap, oidc).',
    ],
    [
      'a passkey where passkeys are not allowed',
      { authMethods: ['ldap'] },
      person(['passkey'], [keyA]),
      'None of their credentials (passkey) makes a complete sign-in with the allowed methods (ldap).',
    ],
    [
      'LDAP under phishing-resistant MFA',
      { phishingResistantMfa: true },
      person(['ldap', 'password', 'totp']),
      'Phishing-resistant MFA requires a passkey, and they have none.',
    ],
    [
      'an unlisted passkey',
      { allowedAaguids: [keyA] },
      person(['passkey'], [keyB]),
      'None of their passkeys is an allowed authenticator model.',
    ],
    [
      'a passkey of unknown model where a list is set',
      { allowedAaguids: [keyA] },
      person(['passkey']),
      'None of their passkeys is an allowed authenticator model.',
    ],
    [
      'a passkey where phishing-resistant MFA is required but passkeys are out',
      { phishingResistantMfa: true, authMethods: ['totp', 'password'] },
      person(['passkey', 'password', 'totp'], [keyA]),
      'Phishing-resistant MFA is required, but passkeys are not an allowed method.',
    ],
  ];
  for (const [name, changes, who, reason] of locked) {
    it(`locks out someone with ${name}`, () => {
      assert.deepEqual(canSatisfy(rules(changes), who, null), { ok: false, reason });
    });
  }

  it('falls back on other methods when the passkey is not allowed', () => {
    const listed = rules({ allowedAaguids: [keyA] });
    assert.deepEqual(canSatisfy(listed, person(['passkey', 'oidc'], [keyB]), null), { ok: true });
  });

  it('checks the source address only when one is given', () => {
    const office = rules({ sourceCidrs: [['10.0.0.0/8'], ['10.20.0.0/16']] });
    const admin = person(['passkey'], [keyA]);
    assert.deepEqual(canSatisfy(office, admin, null), { ok: true });
    assert.deepEqual(canSatisfy(office, admin, '::ffff:10.20.1.1'), { ok: true });
    assert.deepEqual(canSatisfy(office, admin, '10.30.0.1'), {
      ok: false,
      reason: 'The network address 10.30.0.1 is outside the allowed ranges.',
    });
  });
});
