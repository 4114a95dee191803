import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { describe, it } from 'node:test';
import { dnsCategories, type QueryLogMode, queryLogModes } from '@bulwark/dns';
import { cidrInside, effectivePolicy, loosenings } from './effective.ts';
import {
  type AudienceRules,
  audiences,
  completesSignIn,
  defaultOrgPolicy,
  type EffectiveAudienceRules,
  type EffectivePolicy,
  type OrgPolicy,
  orgPolicySchema,
  type PolicyMethod,
  type ProjectPolicy,
  policyMethods,
  projectPolicySchema,
} from './policy.ts';

const keyA = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const keyB = 'ee882879-721c-4913-9775-3dfcce97072a';
const keyC = 'fa2b99dc-9e39-4257-8f92-4a30d23c4118';

/** The default org with some rules replaced; validated, so tests cannot start from a bad org. */
function org(
  changes: { internal?: Partial<AudienceRules>; external?: Partial<AudienceRules> } & Partial<
    Pick<
      OrgPolicy,
      | 'issueLinkRequired'
      | 'retentionDays'
      | 'dnsBlockCategories'
      | 'dnsQueryLog'
      | 'dnsQueryLogRetentionDays'
    >
  > = {},
): OrgPolicy {
  return orgPolicySchema.parse({
    ...defaultOrgPolicy,
    ...changes,
    internal: { ...defaultOrgPolicy.internal, ...changes.internal },
    external: { ...defaultOrgPolicy.external, ...changes.external },
  });
}

describe('effectivePolicy without a project override', () => {
  it('is the org policy, with its ranges as the one list', () => {
    const base = org({ internal: { sourceCidrs: ['10.0.0.0/8'] } });
    const effective = effectivePolicy(base, null);
    assert.deepEqual(effective.internal, { ...base.internal, sourceCidrs: [['10.0.0.0/8']] });
    assert.deepEqual(effective.external, { ...base.external, sourceCidrs: [] });
    assert.equal(effective.retentionDays, null);
    assert.deepEqual(effectivePolicy(base, {}), effective);
  });

  it('shares no arrays with its inputs', () => {
    const base = org({ internal: { sourceCidrs: ['10.0.0.0/8'], allowedAaguids: [keyA] } });
    const effective = effectivePolicy(base, { external: { allowedAaguids: [keyB] } });
    effective.internal.authMethods.push('sms');
    effective.internal.allowedAaguids?.push(keyC);
    effective.internal.sourceCidrs[0]?.push('0.0.0.0/0');
    effective.external.allowedAaguids?.push(keyC);
    assert.deepEqual(base.internal.authMethods, defaultOrgPolicy.internal.authMethods);
    assert.deepEqual(base.internal.allowedAaguids, [keyA]);
    assert.deepEqual(base.internal.sourceCidrs, ['10.0.0.0/8']);
  });
});

describe('effectivePolicy: field by field', () => {
  it('intersects sign-in methods in the org order', () => {
    const effective = effectivePolicy(org(), { internal: { authMethods: ['oidc', 'passkey'] } });
    assert.deepEqual(effective.internal.authMethods, ['passkey', 'oidc']);
    // Methods the org does not allow stay out even when the project lists them.
    const sneaky = effectivePolicy(org(), {
      external: { authMethods: ['sms', 'password', 'ldap'] },
    });
    assert.deepEqual(sneaky.external.authMethods, ['ldap']);
  });

  it('requires what either requires and allows what both allow', () => {
    const effective = effectivePolicy(org(), {
      internal: {
        phishingResistantMfa: true,
        deviceVerificationRequired: true,
        exportAllowed: false,
        callsAllowed: false,
      },
      external: { deviceVerificationRequired: false, exportAllowed: true, callsAllowed: true },
      issueLinkRequired: true,
    });
    assert.equal(effective.internal.phishingResistantMfa, true);
    assert.equal(effective.internal.deviceVerificationRequired, true);
    assert.equal(effective.internal.exportAllowed, false);
    assert.equal(effective.internal.callsAllowed, false);
    assert.equal(effective.external.deviceVerificationRequired, true);
    assert.equal(effective.external.exportAllowed, false);
    assert.equal(effective.external.callsAllowed, true);
    assert.equal(effective.issueLinkRequired, true);
    assert.equal(
      effectivePolicy(org({ issueLinkRequired: true }), { issueLinkRequired: false })
        .issueLinkRequired,
      true,
    );
  });

  it('blocks the DNS categories either side blocks, in the catalogue order', () => {
    const effective = effectivePolicy(org({ dnsBlockCategories: ['phishing', 'malware'] }), {
      dnsBlockCategories: ['ads', 'malware', 'phishing'],
    });
    assert.deepEqual(effective.dnsBlockCategories, ['malware', 'phishing', 'ads']);
    // Even an override the API would refuse (dropping malware) cannot unblock it.
    const sneaky = effectivePolicy(org(), { dnsBlockCategories: ['trackers'] });
    assert.deepEqual(sneaky.dnsBlockCategories, ['malware', 'phishing', 'trackers']);
    assert.deepEqual(effectivePolicy(org(), null).dnsBlockCategories, ['malware', 'phishing']);
  });

  it('keeps the less detailed DNS query log, for the shorter time', () => {
    const cases: Array<[QueryLogMode, QueryLogMode | undefined, QueryLogMode]> = [
      ['full', undefined, 'full'],
      ['full', 'anonymised', 'anonymised'],
      ['full', 'off', 'off'],
      ['anonymised', 'full', 'anonymised'],
      ['off', 'full', 'off'],
      ['anonymised', 'off', 'off'],
    ];
    for (const [orgMode, projectMode, expected] of cases) {
      const project: ProjectPolicy = projectMode === undefined ? {} : { dnsQueryLog: projectMode };
      assert.equal(
        effectivePolicy(org({ dnsQueryLog: orgMode }), project).dnsQueryLog,
        expected,
        `${orgMode} + ${projectMode}`,
      );
    }
    const base = org({ dnsQueryLogRetentionDays: 30 });
    assert.equal(effectivePolicy(base, null).dnsQueryLogRetentionDays, 30);
    assert.equal(
      effectivePolicy(base, { dnsQueryLogRetentionDays: 3 }).dnsQueryLogRetentionDays,
      3,
    );
    assert.equal(
      effectivePolicy(base, { dnsQueryLogRetentionDays: 90 }).dnsQueryLogRetentionDays,
      30,
    );
  });

  it('shares no DNS category list with the frozen default', () => {
    const effective = effectivePolicy(defaultOrgPolicy, null);
    effective.dnsBlockCategories.push('ads');
    assert.deepEqual(defaultOrgPolicy.dnsBlockCategories, ['malware', 'phishing']);
  });

  const aaguidCases: Array<[string[] | null, string[] | null | undefined, string[] | null]> = [
    [null, undefined, null],
    [null, null, null],
    [null, [keyB], [keyB]],
    [[keyA], undefined, [keyA]],
    [[keyA], null, [keyA]],
    [[keyA, keyB], [keyB, keyC], [keyB]],
    [
      [keyA, keyB, keyC],
      [keyC, keyA],
      [keyA, keyC],
    ],
    // Disjoint lists: no passkey qualifies, which is stricter than either.
    [[keyA], [keyB], []],
  ];
  for (const [orgList, projectList, expected] of aaguidCases) {
    it(`allowedAaguids: org ${JSON.stringify(orgList)} + project ${JSON.stringify(projectList)}`, () => {
      const project: ProjectPolicy =
        projectList === undefined ? {} : { internal: { allowedAaguids: projectList } };
      const effective = effectivePolicy(org({ internal: { allowedAaguids: orgList } }), project);
      assert.deepEqual(effective.internal.allowedAaguids, expected);
    });
  }

  it('takes the shorter lifetimes', () => {
    const base = org({ internal: { sessionIdleMinutes: 30, sessionAbsoluteHours: 12 } });
    const shorter = effectivePolicy(base, {
      internal: { sessionIdleMinutes: 10, sessionAbsoluteHours: 24 },
    });
    assert.equal(shorter.internal.sessionIdleMinutes, 10);
    assert.equal(shorter.internal.sessionAbsoluteHours, 12);
    const longer = effectivePolicy(base, {
      internal: { sessionIdleMinutes: 600, sessionAbsoluteHours: 1 },
    });
    assert.equal(longer.internal.sessionIdleMinutes, 30);
    assert.equal(longer.internal.sessionAbsoluteHours, 1);
  });

  it('keeps every range list that is set, once', () => {
    const base = org({ internal: { sourceCidrs: ['10.0.0.0/8', '2001:db8::/32'] } });
    const both = effectivePolicy(base, { internal: { sourceCidrs: ['10.1.0.0/16'] } });
    assert.deepEqual(both.internal.sourceCidrs, [['10.0.0.0/8', '2001:db8::/32'], ['10.1.0.0/16']]);
    // null in the project is "anywhere": the org's list still applies.
    assert.deepEqual(
      effectivePolicy(base, { internal: { sourceCidrs: null } }).internal.sourceCidrs,
      [['10.0.0.0/8', '2001:db8::/32']],
    );
    const same = effectivePolicy(base, {
      internal: { sourceCidrs: ['2001:db8::/32', '10.0.0.0/8'] },
    });
    assert.deepEqual(same.internal.sourceCidrs, [['10.0.0.0/8', '2001:db8::/32']]);
    const projectOnly = effectivePolicy(org(), { external: { sourceCidrs: ['::1/128'] } });
    assert.deepEqual(projectOnly.external.sourceCidrs, [['::1/128']]);
    assert.deepEqual(projectOnly.internal.sourceCidrs, []);
  });

  const retentionCases: Array<[number | null, number | null | undefined, number | null]> = [
    [null, undefined, null],
    [null, null, null],
    [null, 30, 30],
    [90, undefined, 90],
    [90, null, 90],
    [90, 30, 30],
    [90, 365, 90],
  ];
  for (const [orgDays, projectDays, expected] of retentionCases) {
    it(`retentionDays: org ${orgDays} + project ${projectDays} = ${expected}`, () => {
      const project: ProjectPolicy =
        projectDays === undefined ? {} : { retentionDays: projectDays };
      assert.equal(
        effectivePolicy(org({ retentionDays: orgDays }), project).retentionDays,
        expected,
      );
    });
  }

  it('is the org policy when the project tries to loosen everything at once', () => {
    const strict = org({
      internal: {
        authMethods: ['passkey'],
        phishingResistantMfa: true,
        allowedAaguids: [keyA],
        sessionIdleMinutes: 5,
        sessionAbsoluteHours: 1,
        sourceCidrs: ['10.0.0.0/8'],
        exportAllowed: false,
        callsAllowed: false,
        deviceVerificationRequired: true,
      },
      issueLinkRequired: true,
      retentionDays: 30,
    });
    const loose: ProjectPolicy = {
      internal: {
        authMethods: [...policyMethods],
        phishingResistantMfa: false,
        allowedAaguids: null,
        sessionIdleMinutes: 1440,
        sessionAbsoluteHours: 720,
        sourceCidrs: null,
        exportAllowed: true,
        callsAllowed: true,
        deviceVerificationRequired: false,
      },
      issueLinkRequired: false,
      retentionDays: null,
    };
    assert.deepEqual(effectivePolicy(strict, loose), effectivePolicy(strict, null));
    assert.equal(loosenings(strict, loose).length, 11);
  });
});

// ---------------------------------------------------------------------------
// Generated cases. fast-check is not a dependency, so a seeded generator
// gives a few hundred reproducible combinations instead.

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const cidrPool = [
  '10.0.0.0/8',
  '10.1.0.0/16',
  '192.168.0.0/16',
  '0.0.0.0/0',
  '2001:db8::/32',
  '::/0',
];
const aaguidPool = [keyA, keyB, keyC];

function generator(seed: number) {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const bool = () => next() < 0.5;
  const subset = <T>(items: readonly T[]): T[] => {
    const chosen = items.filter(() => bool());
    return chosen.length > 0 ? chosen : [pick(items)];
  };
  const rules = (): AudienceRules => {
    const phishingResistantMfa = next() < 0.25;
    let authMethods: PolicyMethod[] = subset(policyMethods);
    if (!completesSignIn(authMethods, phishingResistantMfa))
      authMethods = ['passkey', ...authMethods];
    return {
      authMethods: policyMethods.filter((m) => authMethods.includes(m)),
      phishingResistantMfa,
      allowedAaguids: bool() ? null : subset(aaguidPool),
      sessionIdleMinutes: pick([1, 5, 30, 60, 1440]),
      sessionAbsoluteHours: pick([1, 12, 24, 720]),
      sourceCidrs: bool() ? null : subset(cidrPool),
      exportAllowed: bool(),
      callsAllowed: bool(),
      deviceVerificationRequired: bool(),
    };
  };
  const orgPolicy = (): OrgPolicy =>
    orgPolicySchema.parse({
      internal: rules(),
      external: rules(),
      issueLinkRequired: bool(),
      retentionDays: pick([null, 1, 30, 365]),
      e2eeCiphersuite: pick(['classic', 'post-quantum'] as const),
      attachmentMaxMB: pick([1, 25, 100]),
      dnsBlockCategories: dnsCategories.filter(() => bool()),
      dnsQueryLog: pick(queryLogModes),
      dnsQueryLogRetentionDays: pick([1, 7, 30, 365]),
    });
  /** Any subset of fields, any values the schema accepts (so tightening and loosening). */
  const projectPolicy = (): ProjectPolicy => {
    const partial = (): Partial<AudienceRules> => {
      const full = rules();
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(full)) if (bool()) out[key] = value;
      if (bool() && out.authMethods !== undefined) out.authMethods = subset(policyMethods);
      return out;
    };
    const raw: Record<string, unknown> = {};
    if (bool()) raw.internal = partial();
    if (bool()) raw.external = partial();
    if (bool()) raw.issueLinkRequired = bool();
    if (bool()) raw.retentionDays = pick([null, 1, 30, 365, 36500]);
    if (bool()) raw.e2eeCiphersuite = pick(['classic', 'post-quantum'] as const);
    if (bool()) raw.attachmentMaxMB = pick([1, 25, 50, 100]);
    // Less often than the others, so both outcomes of the loosening test stay common.
    if (next() < 0.3) raw.dnsBlockCategories = dnsCategories.filter(() => next() < 0.8);
    if (next() < 0.3) raw.dnsQueryLog = pick(queryLogModes);
    if (next() < 0.3) raw.dnsQueryLogRetentionDays = pick([1, 7, 30, 365]);
    return projectPolicySchema.parse(raw);
  };
  return { orgPolicy, projectPolicy };
}

const subsetOf = (a: readonly string[], b: readonly string[]) => a.every((x) => b.includes(x));

/** Fields where `a` is looser than `b`; [] when a is at least as strict. */
function looserFields(a: EffectivePolicy, b: EffectivePolicy): string[] {
  const found: string[] = [];
  for (const audience of audiences) {
    const [x, y]: [EffectiveAudienceRules, EffectiveAudienceRules] = [a[audience], b[audience]];
    const checks: Record<string, boolean> = {
      authMethods: subsetOf(x.authMethods, y.authMethods),
      phishingResistantMfa: x.phishingResistantMfa || !y.phishingResistantMfa,
      allowedAaguids:
        y.allowedAaguids === null ||
        (x.allowedAaguids !== null && subsetOf(x.allowedAaguids, y.allowedAaguids)),
      sessionIdleMinutes: x.sessionIdleMinutes <= y.sessionIdleMinutes,
      sessionAbsoluteHours: x.sessionAbsoluteHours <= y.sessionAbsoluteHours,
      // Every list b enforces, a enforces too.
      sourceCidrs: y.sourceCidrs.every((list) =>
        x.sourceCidrs.some((other) => subsetOf(list, other) && subsetOf(other, list)),
      ),
      exportAllowed: !x.exportAllowed || y.exportAllowed,
      callsAllowed: !x.callsAllowed || y.callsAllowed,
      deviceVerificationRequired: x.deviceVerificationRequired || !y.deviceVerificationRequired,
    };
    for (const [field, ok] of Object.entries(checks)) if (!ok) found.push(`${audience}.${field}`);
  }
  if (b.issueLinkRequired && !a.issueLinkRequired) found.push('issueLinkRequired');
  if (b.e2eeCiphersuite === 'post-quantum' && a.e2eeCiphersuite !== 'post-quantum') {
    found.push('e2eeCiphersuite');
  }
  if (a.attachmentMaxMB > b.attachmentMaxMB) found.push('attachmentMaxMB');
  if (!subsetOf(b.dnsBlockCategories, a.dnsBlockCategories)) found.push('dnsBlockCategories');
  if (queryLogModes.indexOf(a.dnsQueryLog) > queryLogModes.indexOf(b.dnsQueryLog)) {
    found.push('dnsQueryLog');
  }
  if (a.dnsQueryLogRetentionDays > b.dnsQueryLogRetentionDays) {
    found.push('dnsQueryLogRetentionDays');
  }
  if (b.retentionDays !== null && (a.retentionDays === null || a.retentionDays > b.retentionDays)) {
    found.push('retentionDays');
  }
  return found;
}

/** Fields the project sets whose requested value the effective policy does not have exactly. */
function unhonoured(project: ProjectPolicy, effective: EffectivePolicy): string[] {
  const found: string[] = [];
  const sameSet = (a: readonly string[] | null, b: readonly string[] | null) =>
    a === null || b === null ? a === b : subsetOf(a, b) && subsetOf(b, a);
  for (const audience of audiences) {
    const asked = project[audience] ?? {};
    const got = effective[audience];
    for (const [field, value] of Object.entries(asked)) {
      if (field === 'sourceCidrs') continue; // semantic containment: tested by table below
      const actual = got[field as keyof EffectiveAudienceRules];
      const same =
        Array.isArray(value) || value === null
          ? sameSet(value as string[] | null, actual as string[] | null)
          : value === actual;
      if (!same) found.push(`${audience}.${field}`);
    }
  }
  if (
    project.issueLinkRequired !== undefined &&
    project.issueLinkRequired !== effective.issueLinkRequired
  ) {
    found.push('issueLinkRequired');
  }
  if (project.retentionDays !== undefined && project.retentionDays !== effective.retentionDays) {
    found.push('retentionDays');
  }
  if (
    project.e2eeCiphersuite !== undefined &&
    project.e2eeCiphersuite !== effective.e2eeCiphersuite
  ) {
    found.push('e2eeCiphersuite');
  }
  if (
    project.attachmentMaxMB !== undefined &&
    project.attachmentMaxMB !== effective.attachmentMaxMB
  ) {
    found.push('attachmentMaxMB');
  }
  if (
    project.dnsBlockCategories !== undefined &&
    !sameSet(project.dnsBlockCategories, effective.dnsBlockCategories)
  ) {
    found.push('dnsBlockCategories');
  }
  if (project.dnsQueryLog !== undefined && project.dnsQueryLog !== effective.dnsQueryLog) {
    found.push('dnsQueryLog');
  }
  if (
    project.dnsQueryLogRetentionDays !== undefined &&
    project.dnsQueryLogRetentionDays !== effective.dnsQueryLogRetentionDays
  ) {
    found.push('dnsQueryLogRetentionDays');
  }
  return found;
}

describe('effectivePolicy: generated combinations', () => {
  const runs = 400;

  it('a project never makes the effective policy looser than the org', () => {
    const { orgPolicy, projectPolicy } = generator(1);
    for (let i = 0; i < runs; i++) {
      const base = orgPolicy();
      const project = projectPolicy();
      const problems = looserFields(effectivePolicy(base, project), effectivePolicy(base, null));
      assert.deepEqual(problems, [], JSON.stringify({ base, project }));
    }
  });

  it('nor looser than the project asked for', () => {
    const { orgPolicy, projectPolicy } = generator(2);
    for (let i = 0; i < runs; i++) {
      const base = orgPolicy();
      const project = projectPolicy();
      // The project's wishes as if they were a complete policy on top of the most permissive one.
      const permissive: EffectivePolicy = effectivePolicy(
        {
          internal: { ...mostPermissive, ...project.internal },
          external: { ...mostPermissive, ...project.external },
          issueLinkRequired: project.issueLinkRequired ?? false,
          retentionDays: project.retentionDays ?? null,
          e2eeCiphersuite: project.e2eeCiphersuite ?? 'classic',
          attachmentMaxMB: project.attachmentMaxMB ?? 100,
          dnsBlockCategories: project.dnsBlockCategories ?? [],
          dnsQueryLog: project.dnsQueryLog ?? 'full',
          dnsQueryLogRetentionDays: project.dnsQueryLogRetentionDays ?? 365,
        },
        null,
      );
      const problems = looserFields(effectivePolicy(base, project), permissive);
      assert.deepEqual(problems, [], JSON.stringify({ base, project }));
    }
  });

  it('reports a loosening exactly where the project does not get what it asked for', () => {
    const { orgPolicy, projectPolicy } = generator(3);
    let loosened = 0;
    for (let i = 0; i < runs; i++) {
      const base = orgPolicy();
      const project = projectPolicy();
      const reported = loosenings(base, project)
        .map((sentence) => sentence.split(':')[0] ?? '')
        .filter((field) => !field.endsWith('.sourceCidrs'))
        .sort();
      const missed = unhonoured(project, effectivePolicy(base, project)).sort();
      assert.deepEqual(reported, missed, JSON.stringify({ base, project }));
      if (reported.length > 0) loosened++;
    }
    // The generator must exercise both outcomes for this to mean anything.
    assert.ok(
      loosened > runs / 10 && loosened < runs - runs / 10,
      `loosened ${loosened} of ${runs}`,
    );
  });

  it('is commutative between two complete policies, up to order', () => {
    const { orgPolicy } = generator(4);
    const sorted = (policy: EffectivePolicy): EffectivePolicy => {
      const audience = (r: EffectiveAudienceRules): EffectiveAudienceRules => ({
        ...r,
        authMethods: [...r.authMethods].sort(),
        allowedAaguids: r.allowedAaguids === null ? null : [...r.allowedAaguids].sort(),
        sourceCidrs: r.sourceCidrs.map((list) => [...list].sort()).sort(),
      });
      return {
        ...policy,
        internal: audience(policy.internal),
        external: audience(policy.external),
      };
    };
    for (let i = 0; i < runs; i++) {
      const [a, b] = [orgPolicy(), orgPolicy()];
      assert.deepEqual(sorted(effectivePolicy(a, b)), sorted(effectivePolicy(b, a)));
    }
  });

  it('is idempotent: a project repeating its org changes nothing', () => {
    const { orgPolicy } = generator(5);
    for (let i = 0; i < runs; i++) {
      const base = orgPolicy();
      assert.deepEqual(effectivePolicy(base, base), effectivePolicy(base, null));
      assert.deepEqual(loosenings(base, base), []);
    }
  });
});

const mostPermissive: AudienceRules = {
  authMethods: [...policyMethods],
  phishingResistantMfa: false,
  allowedAaguids: null,
  sessionIdleMinutes: 1440,
  sessionAbsoluteHours: 720,
  sourceCidrs: null,
  exportAllowed: true,
  callsAllowed: true,
  deviceVerificationRequired: false,
};

describe('loosenings', () => {
  const cases: Array<[string, OrgPolicy, ProjectPolicy, string[]]> = [
    [
      'a method the org does not allow',
      org(),
      { external: { authMethods: ['passkey', 'sms'] } },
      ['external.authMethods: "sms" is not allowed by the org policy'],
    ],
    [
      'several such methods',
      org({ internal: { authMethods: ['passkey'] } }),
      { internal: { authMethods: ['sms', 'password', 'oidc'] } },
      ['internal.authMethods: "sms", "password" and "oidc" are not allowed by the org policy'],
    ],
    [
      'dropping phishing-resistant MFA',
      org({ internal: { phishingResistantMfa: true } }),
      { internal: { phishingResistantMfa: false } },
      ['internal.phishingResistantMfa: the org policy requires phishing-resistant MFA (passkeys)'],
    ],
    [
      'an authenticator outside the org list',
      org({ external: { allowedAaguids: [keyA] } }),
      { external: { allowedAaguids: [keyA, keyB] } },
      [`external.allowedAaguids: "${keyB}" is not allowed by the org policy`],
    ],
    [
      'any authenticator where the org lists some',
      org({ external: { allowedAaguids: [keyA] } }),
      { external: { allowedAaguids: null } },
      ['external.allowedAaguids: the org policy allows only its listed authenticators'],
    ],
    [
      'a longer idle time',
      org(),
      { internal: { sessionIdleMinutes: 60 } },
      ["internal.sessionIdleMinutes: 60 is longer than the org's 30"],
    ],
    [
      'a longer absolute lifetime',
      org(),
      { external: { sessionAbsoluteHours: 13 } },
      ["external.sessionAbsoluteHours: 13 is longer than the org's 12"],
    ],
    [
      'a range outside the org ranges',
      org({ internal: { sourceCidrs: ['10.0.0.0/8', '2001:db8::/32'] } }),
      { internal: { sourceCidrs: ['10.1.0.0/16', '192.168.0.0/16', '2001:db8:5::/48'] } },
      ["internal.sourceCidrs: 192.168.0.0/16 is not inside the org's ranges"],
    ],
    [
      'ranges that overlap but stick out',
      org({ internal: { sourceCidrs: ['10.0.0.0/8'] } }),
      { internal: { sourceCidrs: ['10.0.0.0/7', '::/0'] } },
      ["internal.sourceCidrs: 10.0.0.0/7, ::/0 are not inside the org's ranges"],
    ],
    [
      'anywhere where the org restricts',
      org({ internal: { sourceCidrs: ['10.0.0.0/8'] } }),
      { internal: { sourceCidrs: null } },
      ['internal.sourceCidrs: the org policy allows access only from 10.0.0.0/8'],
    ],
    [
      'allowing export',
      org(),
      { external: { exportAllowed: true } },
      ['external.exportAllowed: the org policy forbids export'],
    ],
    [
      'allowing calls',
      org({ external: { callsAllowed: false } }),
      { external: { callsAllowed: true } },
      ['external.callsAllowed: the org policy forbids calls'],
    ],
    [
      'dropping device verification',
      org(),
      { external: { deviceVerificationRequired: false } },
      ['external.deviceVerificationRequired: the org policy requires device verification'],
    ],
    [
      'dropping the issue link',
      org({ issueLinkRequired: true }),
      { issueLinkRequired: false },
      ['issueLinkRequired: the org policy requires an issue link'],
    ],
    [
      'keeping data longer',
      org({ retentionDays: 90 }),
      { retentionDays: 365 },
      ["retentionDays: 365 days is longer than the org's 90"],
    ],
    [
      'keeping data forever',
      org({ retentionDays: 90 }),
      { retentionDays: null },
      [
        'retentionDays: the org policy deletes data after 90 days; a project cannot keep it forever',
      ],
    ],
    [
      'leaving out a DNS category the org blocks',
      org({ dnsBlockCategories: ['malware', 'phishing', 'ads'] }),
      { dnsBlockCategories: ['malware', 'trackers'] },
      [
        'dnsBlockCategories: the org policy blocks "phishing", "ads"; a project may only add categories',
      ],
    ],
    [
      'a more detailed DNS query log',
      org(),
      { dnsQueryLog: 'full' },
      ['dnsQueryLog: "full" keeps more than the org\'s "anonymised" (a project may only log less)'],
    ],
    [
      'any DNS query log where the org keeps none',
      org({ dnsQueryLog: 'off' }),
      { dnsQueryLog: 'anonymised' },
      ['dnsQueryLog: "anonymised" keeps more than the org\'s "off" (a project may only log less)'],
    ],
    [
      'keeping the DNS query log longer',
      org(),
      { dnsQueryLogRetentionDays: 30 },
      ["dnsQueryLogRetentionDays: 30 days is longer than the org's 7"],
    ],
    [
      'several at once, in a stable order',
      org(),
      {
        retentionDays: 5,
        external: { exportAllowed: true, authMethods: ['password'] },
        internal: { sessionIdleMinutes: 31 },
      },
      [
        "internal.sessionIdleMinutes: 31 is longer than the org's 30",
        'external.authMethods: "password" is not allowed by the org policy',
        'external.exportAllowed: the org policy forbids export',
      ],
    ],
  ];
  for (const [name, base, project, expected] of cases) {
    it(`reports ${name}`, () => {
      assert.deepEqual(loosenings(base, project), expected);
    });
  }

  const fine: Array<[string, OrgPolicy, ProjectPolicy]> = [
    ['an empty override', org(), {}],
    [
      'tightening every field',
      org({
        internal: { allowedAaguids: [keyA, keyB], sourceCidrs: ['10.0.0.0/8'] },
        retentionDays: 90,
      }),
      {
        internal: {
          authMethods: ['passkey'],
          phishingResistantMfa: true,
          allowedAaguids: [keyB],
          sessionIdleMinutes: 5,
          sessionAbsoluteHours: 1,
          sourceCidrs: ['10.20.0.0/16', '10.0.0.1'],
          exportAllowed: false,
          callsAllowed: false,
          deviceVerificationRequired: true,
        },
        issueLinkRequired: true,
        retentionDays: 30,
        dnsBlockCategories: ['malware', 'phishing', 'trackers', 'ads'],
        dnsQueryLog: 'off',
        dnsQueryLogRetentionDays: 1,
      },
    ],
    [
      'repeating the org values',
      org({ retentionDays: 90 }),
      { internal: { ...defaultOrgPolicy.internal, sourceCidrs: null }, retentionDays: 90 },
    ],
    [
      'lists and numbers where the org sets none',
      org(),
      {
        external: { allowedAaguids: [keyC], sourceCidrs: ['2001:db8::/32'] },
        retentionDays: 36500,
      },
    ],
    [
      'a range covered only by several org ranges together',
      org({ internal: { sourceCidrs: ['10.0.0.0/25', '10.0.0.128/25'] } }),
      { internal: { sourceCidrs: ['10.0.0.0/24'] } },
    ],
    [
      'IPv4 ranges inside an IPv6 org range that covers mapped addresses',
      org({ internal: { sourceCidrs: ['::/0'] } }),
      { internal: { sourceCidrs: ['192.168.0.0/16'] } },
    ],
  ];
  for (const [name, base, project] of fine) {
    it(`reports nothing for ${name}`, () => {
      assert.deepEqual(loosenings(base, project), []);
    });
  }
});

describe('cidrInside', () => {
  const cases: Array<[string, string[], boolean]> = [
    ['10.1.0.0/16', ['10.0.0.0/8'], true],
    ['10.0.0.0/8', ['10.0.0.0/8'], true],
    ['10.0.0.0/7', ['10.0.0.0/8'], false],
    ['11.0.0.0/8', ['10.0.0.0/8'], false],
    ['10.0.0.1', ['10.0.0.0/8'], true],
    ['10.0.0.0/24', ['10.0.0.0/25', '10.0.0.128/25'], true],
    ['10.0.0.0/24', ['10.0.0.128/25', '10.0.0.0/26', '10.0.0.64/26'], true],
    ['10.0.0.0/24', ['10.0.0.0/26', '10.0.0.192/26'], false],
    ['10.0.0.0/24', ['10.0.0.0/25', '10.0.0.128/26'], false],
    ['255.255.255.255/32', ['255.255.255.0/24'], true],
    ['0.0.0.0/0', ['0.0.0.0/1', '128.0.0.0/1'], true],
    ['2001:db8:1::/48', ['2001:db8::/32'], true],
    ['2001:db9::/48', ['2001:db8::/32'], false],
    ['2001:db8::/32', ['2001:db8::/33', '2001:db8:8000::/33'], true],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128', ['::/0'], true],
    ['::ffff:10.1.2.3', ['10.0.0.0/8'], true],
    ['10.0.0.0/8', ['::ffff:0:0/96'], true],
    ['10.0.0.0/8', ['::/0'], true],
    ['::/0', ['0.0.0.0/0'], false],
    ['2001:db8::/32', ['0.0.0.0/0'], false],
    ['10.0.0.0/8', [], false],
    ['not a range', ['0.0.0.0/0', '::/0'], false],
    ['10.0.0.0/8', ['not a range'], false],
  ];
  for (const [range, outer, expected] of cases) {
    it(`${range} inside [${outer.join(', ')}]: ${expected}`, () => {
      assert.equal(cidrInside(range, outer), expected);
    });
  }

  it('agrees with BlockList, which enforces the ranges, on single addresses', () => {
    const ranges = [
      '10.0.0.0/8',
      '0.0.0.0/0',
      '::/0',
      '2001:db8::/32',
      'fe80::/10',
      '192.0.2.128/25',
      '::/96',
    ];
    const addresses = [
      '10.1.2.3',
      '::ffff:10.1.2.3',
      '192.0.2.200',
      '192.0.2.1',
      '2001:db8::1',
      'fe80::1',
      '::1',
      '::10.1.2.3',
      '64:ff9b::a01:203',
      '255.255.255.255',
    ];
    for (const range of ranges) {
      const [address = '', prefix] = range.split('/');
      const list = new BlockList();
      list.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
      for (const client of addresses) {
        const enforced = list.check(client, isIP(client) === 4 ? 'ipv4' : 'ipv6');
        assert.equal(cidrInside(client, [range]), enforced, `${client} in ${range}`);
      }
    }
  });
});
