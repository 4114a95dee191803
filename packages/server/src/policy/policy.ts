import { isIP } from 'node:net';
import { type DnsCategory, dnsCategories, type QueryLogMode, queryLogModes } from '@bulwark/dns';
import { z } from 'zod';
import type { AuthMethod } from '../identity/sessions/service.ts';

/**
 * Security policy. An org has a complete default policy; a project may add
 * an override that only tightens it (effective.ts merges the two, and
 * refuses overrides that try to loosen). Rules exist separately for
 * `internal` members (users of the project's org) and `external` ones
 * (partner-org users, guests), because outsiders usually get less.
 *
 * Everything here is pure: schemas, types, defaults and the CIDR arithmetic
 * the other two modules share.
 */

export const policyMethods = ['passkey', 'totp', 'sms', 'password', 'ldap', 'oidc'] as const;
export type PolicyMethod = (typeof policyMethods)[number];

/** How a session was authenticated (the identity layer's names). */
export type SessionMethod = AuthMethod;

export const audiences = ['internal', 'external'] as const;
export type Audience = (typeof audiences)[number];

export interface AudienceRules {
  /** Allowed sign-in methods: not empty, no duplicates. */
  authMethods: PolicyMethod[];
  /** Only passkeys count: phished passwords and relayed codes get nowhere. */
  phishingResistantMfa: boolean;
  /** Authenticator models (lowercase AAGUIDs) passkeys must be; null = any. */
  allowedAaguids: string[] | null;
  /** 1..1440 */
  sessionIdleMinutes: number;
  /** 1..720 */
  sessionAbsoluteHours: number;
  /** Canonical CIDR ranges the client must connect from; null = anywhere. */
  sourceCidrs: string[] | null;
  exportAllowed: boolean;
  callsAllowed: boolean;
  deviceVerificationRequired: boolean;
}

/** classic: X25519 + AES-128-GCM; post-quantum: the X-Wing hybrid KEM (ML-KEM-768 + X25519). */
export const e2eeCiphersuites = ['classic', 'post-quantum'] as const;
export type E2eeCiphersuite = (typeof e2eeCiphersuites)[number];

export interface OrgPolicy {
  internal: AudienceRules;
  external: AudienceRules;
  issueLinkRequired: boolean;
  /** Days before data is deleted; null = keep forever. 1..36500 */
  retentionDays: number | null;
  /** The MLS ciphersuite of new conversations (docs/messaging.md). */
  e2eeCiphersuite: E2eeCiphersuite;
  /** Largest encrypted chat attachment, in MiB. 1..100 (stored in the database, like messages). */
  attachmentMaxMB: number;
  /** Block-list categories the DNS firewall blocks for the org's clients (docs/dns.md). */
  dnsBlockCategories: DnsCategory[];
  /** How much the DNS query log keeps: off < anonymised (client network only) < full. */
  dnsQueryLog: QueryLogMode;
  /** Days the DNS query log is kept. 1..365 */
  dnsQueryLogRetentionDays: number;
}

/**
 * A project's override. A key left out inherits the org's value; null keeps
 * its meaning from the org policy (any authenticator, anywhere, forever), so
 * it is looser than any list or number the org sets and is refused there.
 */
export interface ProjectPolicy {
  internal?: Partial<AudienceRules>;
  external?: Partial<AudienceRules>;
  issueLinkRequired?: boolean;
  retentionDays?: number | null;
  e2eeCiphersuite?: E2eeCiphersuite;
  attachmentMaxMB?: number;
  dnsBlockCategories?: DnsCategory[];
  dnsQueryLog?: QueryLogMode;
  dnsQueryLogRetentionDays?: number;
}

export interface EffectiveAudienceRules extends Omit<AudienceRules, 'sourceCidrs'> {
  /** Every list must contain the source address (org's and project's both apply); [] = anywhere. */
  sourceCidrs: string[][];
}

export interface EffectivePolicy {
  internal: EffectiveAudienceRules;
  external: EffectiveAudienceRules;
  issueLinkRequired: boolean;
  retentionDays: number | null;
  e2eeCiphersuite: E2eeCiphersuite;
  attachmentMaxMB: number;
  dnsBlockCategories: DnsCategory[];
  dnsQueryLog: QueryLogMode;
  dnsQueryLogRetentionDays: number;
}

const defaultInternal: AudienceRules = {
  authMethods: ['passkey', 'totp', 'password', 'ldap', 'oidc'],
  phishingResistantMfa: false,
  allowedAaguids: null,
  sessionIdleMinutes: 30,
  sessionAbsoluteHours: 12,
  sourceCidrs: null,
  exportAllowed: true,
  callsAllowed: true,
  deviceVerificationRequired: false,
};

/**
 * What a new org starts with. SMS is left out everywhere (codes can be
 * redirected by a SIM swap), and so are local passwords for outsiders, whose
 * password hygiene we cannot see; outsiders also may not export and must
 * verify their devices.
 */
export const defaultOrgPolicy: OrgPolicy = deepFreeze({
  internal: defaultInternal,
  external: {
    ...defaultInternal,
    authMethods: ['passkey', 'totp', 'ldap', 'oidc'],
    exportAllowed: false,
    deviceVerificationRequired: true,
  },
  issueLinkRequired: false,
  retentionDays: null,
  e2eeCiphersuite: 'classic',
  attachmentMaxMB: 25,
  dnsBlockCategories: ['malware', 'phishing'],
  dnsQueryLog: 'anonymised',
  dnsQueryLogRetentionDays: 7,
});

/** Frozen so that a caller editing "its" copy cannot change every org's default. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Whether these methods, together, make a complete sign-in. It is the one
 * definition the schema (is the policy usable at all?) and the lock-out
 * check (can this person still sign in?) share.
 */
export function completesSignIn(
  methods: readonly PolicyMethod[],
  phishingResistantMfa: boolean,
): boolean {
  const has = (method: PolicyMethod) => methods.includes(method);
  if (has('passkey')) return true;
  if (phishingResistantMfa) return false;
  // The directory or identity provider is trusted to apply its own factors.
  if (has('ldap') || has('oidc')) return true;
  // A password is never enough on its own (docs/authentication.md).
  return has('password') && (has('totp') || has('sms'));
}

// ---------------------------------------------------------------------------
// CIDR ranges
//
// Ranges live in one 128-bit space where IPv4 a.b.c.d is the IPv4-mapped
// ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). node:net's BlockList matches the same
// way (a mapped client address matches an IPv4 range, an IPv4 client matches
// ::/0), so containment computed here agrees with what evaluate.ts enforces.

export interface AddressRange {
  readonly first: bigint;
  readonly last: bigint;
  /** Canonical text: IPv4 dotted or RFC 5952 IPv6, always with a prefix. */
  readonly text: string;
}

const ipv4Mapped = 0xffffn << 32n;
const addressBits = 128;

/** Parses `address` or `address/prefix`; a mistake comes back as a sentence naming it. */
export function parseCidr(text: string): AddressRange | { error: string } {
  const invalid = { error: `${show(text)} is not an IPv4 or IPv6 CIDR range` };
  const [address = '', prefixText, extra] = text.split('/');
  // isIP accepts zone ids (fe80::1%eth0), which name an interface, not a range.
  const family = address.includes('%') ? 0 : isIP(address);
  if (family === 0 || extra !== undefined) return invalid;
  const width = family === 4 ? 32 : 128;
  // Digits only, no leading zeros: "/08" or "/+8" is more likely a typo than a range.
  if (prefixText !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return invalid;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (prefix > width) return invalid;
  const bits = family === 4 ? ipv4Mapped | ipv4ToBits(address) : ipv6ToBits(address);
  const fullPrefix = prefix + addressBits - width;
  const hostMask = (1n << BigInt(addressBits - fullPrefix)) - 1n;
  const first = bits & ~hostMask;
  const canonical = formatRange(first, fullPrefix);
  // Refused rather than masked: "10.1.2.3/8" may have meant /24, and a silently
  // widened range is how a policy lets in more than its author intended.
  if (first !== bits)
    return { error: `${show(text)} has bits set after its prefix; the range is ${canonical}` };
  return { first, last: first | hostMask, text: canonical };
}

function ipv4ToBits(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
}

/** Only called on text isIP accepted as IPv6. */
function ipv6ToBits(address: string): bigint {
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const v4 = Number(ipv4ToBits(group)); // trailing dotted quad: two groups
          return [v4 >>> 16, v4 & 0xffff];
        });
  const [head = '', tail] = address.split('::');
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const zeros = new Array<number>(8 - before.length - after.length).fill(0);
  return [...before, ...zeros, ...after].reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

function formatRange(first: bigint, fullPrefix: number): string {
  if (fullPrefix >= 96 && first >> 32n === 0xffffn) {
    const v4 = [24n, 16n, 8n, 0n].map((shift) => String((first >> shift) & 0xffn)).join('.');
    return `${v4}/${fullPrefix - 96}`;
  }
  return `${formatIpv6(first)}/${fullPrefix}`;
}

/** RFC 5952: lowercase, no leading zeros, the first longest run (of 2+) of zero groups as "::". */
function formatIpv6(bits: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) =>
    Number((bits >> BigInt(112 - 16 * i)) & 0xffffn),
  );
  let best = { start: -1, length: 1 };
  let run = { start: -1, length: 0 };
  groups.forEach((group, i) => {
    run =
      group === 0
        ? { start: run.length === 0 ? i : run.start, length: run.length + 1 }
        : { start: -1, length: 0 };
    if (run.length > best.length) best = run;
  });
  const hex = (part: number[]) => part.map((group) => group.toString(16)).join(':');
  if (best.start < 0) return hex(groups);
  return `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.length))}`;
}

// ---------------------------------------------------------------------------
// Schemas
//
// Every object is strict: a misspelt key ("exportAllowd: false") silently
// falling back to the org's value is how a restriction meant to apply does
// not. Messages name the rejected value: policies hold no secrets, and an
// admin fixing a list of twenty ranges needs to know which one is wrong.

/** A short, safe rendering of a rejected value. */
function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  }
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function strictObjectErrors(shape: object): { error: z.core.$ZodErrorMap } {
  const allowed = Object.keys(shape).join(', ');
  return {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map(show).join(', ');
        return `unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${keys} (allowed: ${allowed})`;
      }
      if (issue.code === 'invalid_type') return `expected an object, got ${show(issue.input)}`;
      return undefined;
    },
  };
}

const flag = z.boolean({ error: (issue) => `expected true or false, got ${show(issue.input)}` });

function wholeNumber(min: number, max: number, unit: string) {
  const expected = `expected a whole number of ${unit} from ${min} to ${max}`;
  return z
    .number({ error: (issue) => `${expected}, got ${show(issue.input)}` })
    .superRefine((n, ctx) => {
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `${expected}, got ${n}`, input: n });
      }
    });
}

function noDuplicates(items: readonly string[], ctx: z.RefinementCtx): void {
  items.forEach((item, i) => {
    if (items.indexOf(item) !== i) {
      ctx.addIssue({
        code: 'custom',
        path: [i],
        message: `${show(item)} is listed more than once`,
      });
    }
  });
}

const method = z.enum(policyMethods, {
  error: (issue) =>
    `${show(issue.input)} is not a sign-in method (expected one of ${policyMethods.join(', ')})`,
});

const aaguid = z
  .string({ error: (issue) => `expected an AAGUID as text, got ${show(issue.input)}` })
  .superRefine((text, ctx) => {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) {
      ctx.addIssue({
        code: 'custom',
        message: `${show(text)} is not an AAGUID (expected UUID form like cb69481e-8ff7-4039-93ec-0a2729a154a8)`,
        input: text,
      });
    }
  })
  .transform((text) => text.toLowerCase());

const cidr = z
  .string({ error: (issue) => `expected a CIDR range as text, got ${show(issue.input)}` })
  .transform((text, ctx) => {
    const range = parseCidr(text);
    if ('error' in range) {
      ctx.addIssue({ code: 'custom', message: range.error, input: text });
      return z.NEVER;
    }
    return range.text;
  });

/**
 * An empty list would read as "nothing is allowed" to us and as "no
 * restriction" to many admins; null is the one spelling of "no restriction".
 */
function nonEmptyList<T extends z.ZodType<string>>(item: T, what: string, ifEmpty: string) {
  return z
    .array(item, { error: (issue) => `expected a list of ${what}, got ${show(issue.input)}` })
    .min(1, `expected at least one ${what.replace(/s$/, '')}; ${ifEmpty}`)
    .superRefine(noDuplicates);
}

const audienceShape = {
  authMethods: nonEmptyList(method, 'sign-in methods', 'a policy must allow some way in'),
  phishingResistantMfa: flag,
  allowedAaguids: nonEmptyList(aaguid, 'AAGUIDs', 'use null to allow any authenticator').nullable(),
  sessionIdleMinutes: wholeNumber(1, 1440, 'minutes'),
  sessionAbsoluteHours: wholeNumber(1, 720, 'hours'),
  sourceCidrs: nonEmptyList(cidr, 'CIDR ranges', 'use null to allow any address').nullable(),
  exportAllowed: flag,
  callsAllowed: flag,
  deviceVerificationRequired: flag,
};

/**
 * A complete rule set must let someone in. (A project override is checked
 * field by field only: its combination with the org's is what matters, and
 * the lock-out check in evaluate.ts looks at that.)
 */
const audienceRulesSchema = z
  .strictObject(audienceShape, strictObjectErrors(audienceShape))
  .superRefine((rules, ctx) => {
    // An empty list has been reported already (the check does not stop parsing).
    if (rules.authMethods.length === 0) return;
    if (rules.phishingResistantMfa && !rules.authMethods.includes('passkey')) {
      ctx.addIssue({
        code: 'custom',
        path: ['phishingResistantMfa'],
        message: 'phishing-resistant MFA needs "passkey" in authMethods',
      });
    } else if (!completesSignIn(rules.authMethods, rules.phishingResistantMfa)) {
      ctx.addIssue({
        code: 'custom',
        path: ['authMethods'],
        message:
          'no complete sign-in is possible: add passkey, ldap or oidc, or password with totp or sms',
      });
    }
  });

const retentionDays = wholeNumber(1, 36500, 'days').nullable();

const e2eeCiphersuite = z.enum(e2eeCiphersuites, {
  error: (issue) => `expected "classic" or "post-quantum", got ${show(issue.input)}`,
});
const attachmentMaxMB = wholeNumber(1, 100, 'MiB');

const dnsCategory = z.enum(dnsCategories, {
  error: (issue) =>
    `${show(issue.input)} is not a DNS category (expected one of ${dnsCategories.join(', ')})`,
});
/** An empty list is allowed: an org may choose to block no category (custom rules still apply). */
const dnsBlockCategories = z
  .array(dnsCategory, {
    error: (issue) => `expected a list of DNS categories, got ${show(issue.input)}`,
  })
  .superRefine(noDuplicates);
const dnsQueryLog = z.enum(queryLogModes, {
  error: (issue) => `expected "off", "anonymised" or "full", got ${show(issue.input)}`,
});
const dnsQueryLogRetentionDays = wholeNumber(1, 365, 'days');

const orgShape = {
  internal: audienceRulesSchema,
  external: audienceRulesSchema,
  issueLinkRequired: flag,
  retentionDays,
  // Defaults: policies stored before these settings existed read as the defaults.
  e2eeCiphersuite: e2eeCiphersuite.default('classic'),
  attachmentMaxMB: attachmentMaxMB.default(25),
  dnsBlockCategories: dnsBlockCategories.default((): DnsCategory[] => ['malware', 'phishing']),
  dnsQueryLog: dnsQueryLog.default('anonymised'),
  dnsQueryLogRetentionDays: dnsQueryLogRetentionDays.default(7),
};

export const orgPolicySchema: z.ZodType<OrgPolicy> = z.strictObject(
  orgShape,
  strictObjectErrors(orgShape),
);

const partialAudience = z
  .strictObject(audienceShape, strictObjectErrors(audienceShape))
  .exactPartial();

const projectShape = {
  internal: partialAudience,
  external: partialAudience,
  issueLinkRequired: flag,
  retentionDays,
  e2eeCiphersuite,
  attachmentMaxMB,
  dnsBlockCategories,
  dnsQueryLog,
  dnsQueryLogRetentionDays,
};

export const projectPolicySchema: z.ZodType<ProjectPolicy> = z
  .strictObject(projectShape, strictObjectErrors(projectShape))
  .exactPartial();

/** One line per problem, e.g. `internal.sourceCidrs[1]: "10.0.0.0/33" is not an IPv4 or IPv6 CIDR range`. */
export function policyProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path
      .map((part, i) =>
        typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`,
      )
      .join('');
    return where === '' ? issue.message : `${where}: ${issue.message}`;
  });
}
