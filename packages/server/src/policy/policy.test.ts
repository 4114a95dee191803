import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AudienceRules,
  completesSignIn,
  defaultOrgPolicy,
  type OrgPolicy,
  orgPolicySchema,
  type PolicyMethod,
  parseCidr,
  policyProblems,
  projectPolicySchema,
} from './policy.ts';

/** The org default with some internal rules replaced (raw input: may be invalid on purpose). */
function orgWith(internal: Record<string, unknown>, top: Record<string, unknown> = {}): unknown {
  return { ...defaultOrgPolicy, internal: { ...defaultOrgPolicy.internal, ...internal }, ...top };
}

function orgProblems(input: unknown): string[] {
  const result = orgPolicySchema.safeParse(input);
  assert.equal(result.success, false, 'expected the org policy to be refused');
  return result.success ? [] : policyProblems(result.error);
}

function projectProblems(input: unknown): string[] {
  const result = projectPolicySchema.safeParse(input);
  assert.equal(result.success, false, 'expected the project policy to be refused');
  return result.success ? [] : policyProblems(result.error);
}

function parsedInternal(internal: Record<string, unknown>): AudienceRules {
  return orgPolicySchema.parse(orgWith(internal)).internal;
}

describe('defaultOrgPolicy', () => {
  it('is valid and survives a parse unchanged (stored policies are re-parsed)', () => {
    assert.deepEqual(orgPolicySchema.parse(defaultOrgPolicy), defaultOrgPolicy);
  });

  it('keeps SMS out everywhere and passwords out for externals', () => {
    assert.deepEqual(defaultOrgPolicy.internal.authMethods, [
      'passkey',
      'totp',
      'password',
      'ldap',
      'oidc',
    ]);
    assert.deepEqual(defaultOrgPolicy.external.authMethods, ['passkey', 'totp', 'ldap', 'oidc']);
    assert.equal(defaultOrgPolicy.external.exportAllowed, false);
    assert.equal(defaultOrgPolicy.external.deviceVerificationRequired, true);
    assert.equal(defaultOrgPolicy.internal.sessionIdleMinutes, 30);
    assert.equal(defaultOrgPolicy.external.sessionAbsoluteHours, 12);
    assert.equal(defaultOrgPolicy.retentionDays, null);
  });

  it('cannot be changed by a caller that edits it in place', () => {
    assert.throws(() => {
      defaultOrgPolicy.internal.authMethods.push('sms');
    }, TypeError);
    assert.throws(() => {
      (defaultOrgPolicy.external as { exportAllowed: boolean }).exportAllowed = true;
    }, TypeError);
    assert.equal(defaultOrgPolicy.internal.authMethods.includes('sms'), false);
  });
});

describe('orgPolicySchema: unknown keys', () => {
  it('refuses them at every level, naming the key and what is allowed', () => {
    const problems = orgProblems(orgWith({ exportAllowd: false }, { retention: 30 }));
    assert.equal(problems.length, 2);
    assert.match(
      problems[0] ?? '',
      /^internal: unknown key "exportAllowd" \(allowed: authMethods, /,
    );
    assert.match(problems[0] ?? '', /exportAllowed/);
    assert.match(problems[1] ?? '', /^unknown key "retention" \(allowed: internal, external, /);
  });

  it('refuses a non-object', () => {
    assert.deepEqual(orgProblems('strict'), ['expected an object, got "strict"']);
    assert.deepEqual(orgProblems([]), ['expected an object, got a list']);
    assert.deepEqual(orgProblems(null), ['expected an object, got null']);
  });

  it('refuses a missing field instead of defaulting it', () => {
    const { callsAllowed: _, ...rest } = defaultOrgPolicy.internal;
    assert.deepEqual(orgProblems({ ...defaultOrgPolicy, internal: rest }), [
      'internal.callsAllowed: expected true or false, got nothing',
    ]);
  });
});

describe('orgPolicySchema: sourceCidrs', () => {
  const refused: Array<[string, RegExp]> = [
    ['10.0.0.0/33', /"10\.0\.0\.0\/33" is not an IPv4 or IPv6 CIDR range/],
    ['2001:db8::/129', /"2001:db8::\/129" is not an IPv4 or IPv6 CIDR range/],
    ['10.0.0.0/', /is not an IPv4 or IPv6 CIDR range/],
    ['10.0.0.0/8/8', /is not an IPv4 or IPv6 CIDR range/],
    ['10.0.0.0/08', /is not an IPv4 or IPv6 CIDR range/],
    ['10.0.0.0/+8', /is not an IPv4 or IPv6 CIDR range/],
    ['10.0.0.0/-1', /is not an IPv4 or IPv6 CIDR range/],
    ['010.0.0.0/8', /is not an IPv4 or IPv6 CIDR range/],
    ['10.0.0/8', /is not an IPv4 or IPv6 CIDR range/],
    [' 10.0.0.0/8', /is not an IPv4 or IPv6 CIDR range/],
    ['fe80::1%eth0', /"fe80::1%eth0" is not an IPv4 or IPv6 CIDR range/],
    ['example.org', /is not an IPv4 or IPv6 CIDR range/],
    ['', /"" is not an IPv4 or IPv6 CIDR range/],
    ['10.1.2.3/8', /"10\.1\.2\.3\/8" has bits set after its prefix; the range is 10\.0\.0\.0\/8/],
    ['2001:db8::1/32', /has bits set after its prefix; the range is 2001:db8::\/32/],
  ];
  for (const [range, message] of refused) {
    it(`refuses ${JSON.stringify(range)}, saying which entry`, () => {
      const problems = orgProblems(orgWith({ sourceCidrs: ['192.0.2.0/24', range] }));
      assert.equal(problems.length, 1);
      assert.match(problems[0] ?? '', /^internal\.sourceCidrs\[1\]: /);
      assert.match(problems[0] ?? '', message);
    });
  }

  it('gives the exact sentence for an out-of-range prefix', () => {
    assert.deepEqual(orgProblems(orgWith({ sourceCidrs: ['10.0.0.0/8', '10.0.0.0/33'] })), [
      'internal.sourceCidrs[1]: "10.0.0.0/33" is not an IPv4 or IPv6 CIDR range',
    ]);
  });

  it('truncates a huge rejected value', () => {
    const [problem = ''] = orgProblems(orgWith({ sourceCidrs: ['x'.repeat(10_000)] }));
    assert.ok(problem.length < 200, problem);
  });

  it('refuses non-strings, an empty list and duplicates (after canonicalisation)', () => {
    assert.deepEqual(orgProblems(orgWith({ sourceCidrs: [10] })), [
      'internal.sourceCidrs[0]: expected a CIDR range as text, got 10',
    ]);
    assert.deepEqual(orgProblems(orgWith({ sourceCidrs: [] })), [
      'internal.sourceCidrs: expected at least one CIDR range; use null to allow any address',
    ]);
    assert.deepEqual(orgProblems(orgWith({ sourceCidrs: ['10.0.0.1', '10.0.0.1/32'] })), [
      'internal.sourceCidrs[1]: "10.0.0.1/32" is listed more than once',
    ]);
    assert.deepEqual(orgProblems(orgWith({ sourceCidrs: '10.0.0.0/8' })), [
      'internal.sourceCidrs: expected a list of CIDR ranges, got "10.0.0.0/8"',
    ]);
  });

  const canonical: Array<[string, string]> = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.0.2.7', '192.0.2.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8:0:0::/32', '2001:db8::/32'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1/128'],
    ['0:0:1:0:0:0:0:0/48', '0:0:1::/48'],
    ['::1', '::1/128'],
    ['::', '::/128'],
    ['::/0', '::/0'],
    ['fe80::/10', 'fe80::/10'],
    // IPv4-mapped ranges are IPv4 ranges: one spelling for one set of clients.
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::FFFF:a00:0/104', '10.0.0.0/8'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:192.0.2.1', '192.0.2.1/32'],
  ];
  for (const [input, output] of canonical) {
    it(`stores ${input} as ${output}`, () => {
      assert.deepEqual(parsedInternal({ sourceCidrs: [input] }).sourceCidrs, [output]);
      const range = parseCidr(input);
      assert.ok(!('error' in range));
      // Canonical text parses to itself: stored policies round-trip.
      assert.deepEqual(parseCidr(range.text), range);
    });
  }

  it('accepts null for anywhere', () => {
    assert.equal(parsedInternal({ sourceCidrs: null }).sourceCidrs, null);
  });
});

describe('orgPolicySchema: allowedAaguids', () => {
  const yubikey = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';

  it('lower-cases them', () => {
    assert.deepEqual(parsedInternal({ allowedAaguids: [yubikey.toUpperCase()] }).allowedAaguids, [
      yubikey,
    ]);
  });

  for (const bad of [
    'cb69481e8ff7403993ec0a2729a154a8',
    'cb69481e-8ff7-4039-93ec-0a2729a154a',
    '{cb69481e-8ff7-4039-93ec-0a2729a154a8}',
    'zb69481e-8ff7-4039-93ec-0a2729a154a8',
  ]) {
    it(`refuses ${bad}, naming it`, () => {
      assert.deepEqual(orgProblems(orgWith({ allowedAaguids: [yubikey, bad] })), [
        `internal.allowedAaguids[1]: "${bad}" is not an AAGUID (expected UUID form like cb69481e-8ff7-4039-93ec-0a2729a154a8)`,
      ]);
    });
  }

  it('refuses an empty list and duplicates that differ only in case', () => {
    assert.deepEqual(orgProblems(orgWith({ allowedAaguids: [] })), [
      'internal.allowedAaguids: expected at least one AAGUID; use null to allow any authenticator',
    ]);
    assert.deepEqual(orgProblems(orgWith({ allowedAaguids: [yubikey, yubikey.toUpperCase()] })), [
      `internal.allowedAaguids[1]: "${yubikey}" is listed more than once`,
    ]);
  });
});

describe('orgPolicySchema: authMethods', () => {
  it('refuses unknown methods, duplicates and an empty list', () => {
    assert.deepEqual(orgProblems(orgWith({ authMethods: ['passkey', 'webauthn'] })), [
      'internal.authMethods[1]: "webauthn" is not a sign-in method (expected one of passkey, totp, sms, password, ldap, oidc)',
    ]);
    assert.deepEqual(orgProblems(orgWith({ authMethods: ['passkey', 'totp', 'passkey'] })), [
      'internal.authMethods[2]: "passkey" is listed more than once',
    ]);
    assert.deepEqual(orgProblems(orgWith({ authMethods: [] })), [
      'internal.authMethods: expected at least one sign-in method; a policy must allow some way in',
    ]);
  });

  it('refuses rules nobody could sign in under', () => {
    assert.deepEqual(orgProblems(orgWith({ authMethods: ['totp', 'sms'] })), [
      'internal.authMethods: no complete sign-in is possible: add passkey, ldap or oidc, or password with totp or sms',
    ]);
    assert.deepEqual(orgProblems(orgWith({ authMethods: ['password'] })).length, 1);
    assert.deepEqual(
      orgProblems(
        orgWith({ authMethods: ['password', 'totp', 'ldap'], phishingResistantMfa: true }),
      ),
      ['internal.phishingResistantMfa: phishing-resistant MFA needs "passkey" in authMethods'],
    );
  });

  it('accepts each complete combination', () => {
    for (const authMethods of [['passkey'], ['ldap'], ['oidc'], ['password', 'sms']]) {
      assert.deepEqual(parsedInternal({ authMethods }).authMethods, authMethods);
    }
  });
});

describe('orgPolicySchema: numbers and flags', () => {
  const cases: Array<[Record<string, unknown>, Record<string, unknown>, string]> = [
    [
      { sessionIdleMinutes: 0 },
      {},
      'internal.sessionIdleMinutes: expected a whole number of minutes from 1 to 1440, got 0',
    ],
    [
      { sessionIdleMinutes: 1441 },
      {},
      'internal.sessionIdleMinutes: expected a whole number of minutes from 1 to 1440, got 1441',
    ],
    [
      { sessionIdleMinutes: 1.5 },
      {},
      'internal.sessionIdleMinutes: expected a whole number of minutes from 1 to 1440, got 1.5',
    ],
    [
      { sessionIdleMinutes: '30' },
      {},
      'internal.sessionIdleMinutes: expected a whole number of minutes from 1 to 1440, got "30"',
    ],
    [
      { sessionIdleMinutes: null },
      {},
      'internal.sessionIdleMinutes: expected a whole number of minutes from 1 to 1440, got null',
    ],
    [
      { sessionAbsoluteHours: 721 },
      {},
      'internal.sessionAbsoluteHours: expected a whole number of hours from 1 to 720, got 721',
    ],
    [
      { sessionAbsoluteHours: -1 },
      {},
      'internal.sessionAbsoluteHours: expected a whole number of hours from 1 to 720, got -1',
    ],
    [
      {},
      { retentionDays: 0 },
      'retentionDays: expected a whole number of days from 1 to 36500, got 0',
    ],
    [
      {},
      { retentionDays: 36501 },
      'retentionDays: expected a whole number of days from 1 to 36500, got 36501',
    ],
    [{ exportAllowed: 'false' }, {}, 'internal.exportAllowed: expected true or false, got "false"'],
    [
      { phishingResistantMfa: 1 },
      {},
      'internal.phishingResistantMfa: expected true or false, got 1',
    ],
    [{}, { issueLinkRequired: null }, 'issueLinkRequired: expected true or false, got null'],
  ];
  for (const [internal, top, message] of cases) {
    it(`refuses ${JSON.stringify({ ...internal, ...top })}`, () => {
      assert.deepEqual(orgProblems(orgWith(internal, top)), [message]);
    });
  }

  it('accepts the bounds', () => {
    const policy: OrgPolicy = orgPolicySchema.parse(
      orgWith({ sessionIdleMinutes: 1440, sessionAbsoluteHours: 1 }, { retentionDays: 36500 }),
    );
    assert.equal(policy.internal.sessionIdleMinutes, 1440);
    assert.equal(policy.internal.sessionAbsoluteHours, 1);
    assert.equal(policy.retentionDays, 36500);
    assert.equal(orgPolicySchema.parse(orgWith({}, { retentionDays: 1 })).retentionDays, 1);
  });
});

describe('orgPolicySchema: DNS firewall settings', () => {
  it('defaults to blocking malware and phishing, an anonymised log kept 7 days', () => {
    assert.deepEqual(defaultOrgPolicy.dnsBlockCategories, ['malware', 'phishing']);
    assert.equal(defaultOrgPolicy.dnsQueryLog, 'anonymised');
    assert.equal(defaultOrgPolicy.dnsQueryLogRetentionDays, 7);
  });

  it('reads a policy stored before the settings existed as the defaults, each with its own list', () => {
    const {
      dnsBlockCategories: _c,
      dnsQueryLog: _l,
      dnsQueryLogRetentionDays: _d,
      ...older
    } = defaultOrgPolicy;
    const a = orgPolicySchema.parse(older);
    const b = orgPolicySchema.parse(older);
    assert.deepEqual(a.dnsBlockCategories, ['malware', 'phishing']);
    assert.equal(a.dnsQueryLog, 'anonymised');
    assert.equal(a.dnsQueryLogRetentionDays, 7);
    a.dnsBlockCategories.push('ads');
    assert.deepEqual(b.dnsBlockCategories, ['malware', 'phishing'], 'no shared default list');
  });

  it('accepts every category and an empty list (block none)', () => {
    const all = ['malware', 'phishing', 'trackers', 'ads', 'custom'] as const;
    assert.deepEqual(
      orgPolicySchema.parse({ ...defaultOrgPolicy, dnsBlockCategories: [...all] })
        .dnsBlockCategories,
      all,
    );
    assert.deepEqual(
      orgPolicySchema.parse({ ...defaultOrgPolicy, dnsBlockCategories: [] }).dnsBlockCategories,
      [],
    );
  });

  const bad: Array<[Record<string, unknown>, string]> = [
    [
      { dnsBlockCategories: ['malware', 'gambling'] },
      'dnsBlockCategories[1]: "gambling" is not a DNS category (expected one of malware, phishing, trackers, ads, custom)',
    ],
    [
      { dnsBlockCategories: ['ads', 'ads'] },
      'dnsBlockCategories[1]: "ads" is listed more than once',
    ],
    [
      { dnsBlockCategories: 'ads' },
      'dnsBlockCategories: expected a list of DNS categories, got "ads"',
    ],
    [
      { dnsQueryLog: 'verbose' },
      'dnsQueryLog: expected "off", "anonymised" or "full", got "verbose"',
    ],
    [
      { dnsQueryLogRetentionDays: 0 },
      'dnsQueryLogRetentionDays: expected a whole number of days from 1 to 365, got 0',
    ],
    [
      { dnsQueryLogRetentionDays: 366 },
      'dnsQueryLogRetentionDays: expected a whole number of days from 1 to 365, got 366',
    ],
  ];
  for (const [top, message] of bad) {
    it(`refuses ${JSON.stringify(top)}`, () => {
      assert.deepEqual(orgProblems(orgWith({}, top)), [message]);
      assert.deepEqual(projectProblems(top), [message]);
    });
  }
});

describe('projectPolicySchema', () => {
  it('accepts an empty override and partial rule sets', () => {
    assert.deepEqual(projectPolicySchema.parse({}), {});
    assert.deepEqual(
      projectPolicySchema.parse({ external: { callsAllowed: false }, retentionDays: null }),
      { external: { callsAllowed: false }, retentionDays: null },
    );
  });

  it('refuses unknown keys at both levels', () => {
    assert.deepEqual(
      projectProblems({ internal: { sessionIdle: 5 }, issueLink: true }).map(
        (p) => p.split(' (')[0],
      ),
      ['internal: unknown key "sessionIdle"', 'unknown key "issueLink"'],
    );
  });

  it('validates and normalises like the org schema', () => {
    assert.deepEqual(projectProblems({ internal: { sourceCidrs: ['192.168.0.0/16', '::/200'] } }), [
      'internal.sourceCidrs[1]: "::/200" is not an IPv4 or IPv6 CIDR range',
    ]);
    assert.deepEqual(
      projectPolicySchema.parse({
        external: {
          sourceCidrs: ['2001:DB8::/48'],
          allowedAaguids: ['CB69481E-8FF7-4039-93EC-0A2729A154A8'],
        },
      }),
      {
        external: {
          sourceCidrs: ['2001:db8::/48'],
          allowedAaguids: ['cb69481e-8ff7-4039-93ec-0a2729a154a8'],
        },
      },
    );
    assert.deepEqual(projectProblems({ retentionDays: 0.5 }), [
      'retentionDays: expected a whole number of days from 1 to 36500, got 0.5',
    ]);
  });

  it('refuses an explicit undefined (a key is either set or absent)', () => {
    assert.equal(
      projectPolicySchema.safeParse({ internal: { exportAllowed: undefined } }).success,
      false,
    );
  });

  it('does not check combinations, which only mean something merged with the org', () => {
    assert.deepEqual(projectPolicySchema.parse({ internal: { authMethods: ['totp'] } }), {
      internal: { authMethods: ['totp'] },
    });
  });
});

describe('completesSignIn', () => {
  const cases: Array<[PolicyMethod[], boolean, boolean]> = [
    [['passkey'], false, true],
    [['passkey'], true, true],
    [['ldap'], false, true],
    [['oidc'], false, true],
    [['ldap'], true, false],
    [['password'], false, false],
    [['password', 'totp'], false, true],
    [['password', 'sms'], false, true],
    [['password', 'totp'], true, false],
    [['totp', 'sms'], false, false],
    [[], false, false],
  ];
  for (const [methods, phishingResistant, expected] of cases) {
    it(`${methods.join('+') || 'nothing'}${phishingResistant ? ' (phishing-resistant)' : ''}: ${expected}`, () => {
      assert.equal(completesSignIn(methods, phishingResistant), expected);
    });
  }
});
