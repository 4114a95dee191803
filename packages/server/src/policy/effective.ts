import { type DnsCategory, dnsCategories, type QueryLogMode } from '@bulwark/dns';
import {
  type AddressRange,
  type Audience,
  type AudienceRules,
  audiences,
  type EffectiveAudienceRules,
  type EffectivePolicy,
  type OrgPolicy,
  type ProjectPolicy,
  parseCidr,
} from './policy.ts';

/**
 * The policy that applies in a project: for every field, the stricter of the
 * org's and the project's. Strictness is decided here, field by field, and
 * never depends on the project's good behaviour: even an override the API
 * should have refused (see `loosenings`) cannot make the result looser than
 * the org's policy.
 */
export function effectivePolicy(org: OrgPolicy, project: ProjectPolicy | null): EffectivePolicy {
  return {
    internal: effectiveAudience(org.internal, project?.internal),
    external: effectiveAudience(org.external, project?.external),
    issueLinkRequired: org.issueLinkRequired || project?.issueLinkRequired === true,
    retentionDays: shorterRetention(org.retentionDays, project?.retentionDays),
    // Post-quantum is the stricter choice; either side may ask for it.
    e2eeCiphersuite:
      org.e2eeCiphersuite === 'post-quantum' || project?.e2eeCiphersuite === 'post-quantum'
        ? 'post-quantum'
        : 'classic',
    attachmentMaxMB: Math.min(org.attachmentMaxMB, project?.attachmentMaxMB ?? org.attachmentMaxMB),
    // Blocking more is stricter: whatever either side blocks is blocked.
    dnsBlockCategories: categoryUnion(org.dnsBlockCategories, project?.dnsBlockCategories ?? []),
    // Keeping less about people's look-ups is the privacy-protective side (as for retention).
    dnsQueryLog: lessDetailed(org.dnsQueryLog, project?.dnsQueryLog ?? org.dnsQueryLog),
    dnsQueryLogRetentionDays: Math.min(
      org.dnsQueryLogRetentionDays,
      project?.dnsQueryLogRetentionDays ?? org.dnsQueryLogRetentionDays,
    ),
  };
}

/** Both sides' categories, in the catalogue's order (so equal policies compare equal). */
export function categoryUnion(...lists: readonly (readonly DnsCategory[])[]): DnsCategory[] {
  const all = new Set(lists.flat());
  return dnsCategories.filter((c) => all.has(c));
}

const logDetail: Record<QueryLogMode, number> = { off: 0, anonymised: 1, full: 2 };

/** off < anonymised < full: the mode that keeps less. */
export function lessDetailed(a: QueryLogMode, b: QueryLogMode): QueryLogMode {
  return logDetail[b] < logDetail[a] ? b : a;
}

function effectiveAudience(
  org: AudienceRules,
  project: Partial<AudienceRules> = {},
): EffectiveAudienceRules {
  const projectMethods = project.authMethods;
  return {
    // Org order is kept: it is the order admins chose to show the methods in.
    authMethods:
      projectMethods === undefined
        ? [...org.authMethods]
        : org.authMethods.filter((m) => projectMethods.includes(m)),
    phishingResistantMfa: org.phishingResistantMfa || project.phishingResistantMfa === true,
    allowedAaguids: intersectOrEither(org.allowedAaguids, project.allowedAaguids ?? null),
    sessionIdleMinutes: Math.min(org.sessionIdleMinutes, project.sessionIdleMinutes ?? Infinity),
    sessionAbsoluteHours: Math.min(
      org.sessionAbsoluteHours,
      project.sessionAbsoluteHours ?? Infinity,
    ),
    // Kept as separate lists rather than intersected here: the source must
    // be in both, which BlockList checks exactly, whereas computing the
    // intersection of two range lists is arithmetic we would have to trust.
    sourceCidrs: distinctLists([org.sourceCidrs, project.sourceCidrs ?? null]),
    exportAllowed: org.exportAllowed && project.exportAllowed !== false,
    callsAllowed: org.callsAllowed && project.callsAllowed !== false,
    deviceVerificationRequired:
      org.deviceVerificationRequired || project.deviceVerificationRequired === true,
  };
}

/** null means "no restriction", so the other side wins; two lists intersect (org order). */
function intersectOrEither(org: string[] | null, project: string[] | null): string[] | null {
  if (org === null) return project === null ? null : [...project];
  if (project === null) return [...org];
  return org.filter((item) => project.includes(item));
}

function distinctLists(lists: Array<string[] | null>): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const list of lists) {
    if (list === null) continue;
    const key = [...list].sort().join(' ');
    if (!seen.has(key)) out.push([...list]);
    seen.add(key);
  }
  return out;
}

/**
 * The shorter retention wins, and null (keep forever) is the longest. Keeping
 * data for less time is the privacy-protective choice: what has been deleted
 * cannot leak, be subpoenaed or be misused, so a project may always ask to
 * keep less than its org, never more.
 */
function shorterRetention(org: number | null, project: number | null | undefined): number | null {
  if (project === undefined || project === null) return org;
  return org === null ? project : Math.min(org, project);
}

/**
 * Where the project override asks for something looser than the org allows:
 * one sentence per field, naming it. Empty when the override only tightens.
 * The API refuses an override with any loosening and shows these, because a
 * silently ignored setting would let a project admin believe in a
 * restriction (or a freedom) that is not there.
 */
export function loosenings(org: OrgPolicy, project: ProjectPolicy): string[] {
  const found: string[] = [];
  for (const audience of audiences) {
    const rules = project[audience];
    if (rules !== undefined) found.push(...audienceLoosenings(audience, org[audience], rules));
  }
  if (org.issueLinkRequired && project.issueLinkRequired === false) {
    found.push('issueLinkRequired: the org policy requires an issue link');
  }
  const retention = retentionLoosening(org.retentionDays, project.retentionDays);
  if (retention !== null) found.push(`retentionDays: ${retention}`);
  if (org.e2eeCiphersuite === 'post-quantum' && project.e2eeCiphersuite === 'classic') {
    found.push('e2eeCiphersuite: the org policy requires the post-quantum ciphersuite');
  }
  if (project.attachmentMaxMB !== undefined && project.attachmentMaxMB > org.attachmentMaxMB) {
    found.push(
      `attachmentMaxMB: ${project.attachmentMaxMB} is above the org's ${org.attachmentMaxMB}`,
    );
  }
  found.push(...dnsLoosenings(org, project));
  return found;
}

/**
 * A project may add block categories but must keep the org's (a list that
 * leaves one out reads as "not blocked here", which the union would not
 * honour); it may log less about look-ups, and for less long, never more.
 */
function dnsLoosenings(org: OrgPolicy, project: ProjectPolicy): string[] {
  const found: string[] = [];
  const categories = project.dnsBlockCategories;
  if (categories !== undefined) {
    const dropped = org.dnsBlockCategories.filter((c) => !categories.includes(c));
    if (dropped.length > 0) {
      const quoted = dropped.map((c) => JSON.stringify(c)).join(', ');
      found.push(
        `dnsBlockCategories: the org policy blocks ${quoted}; a project may only add categories`,
      );
    }
  }
  const mode = project.dnsQueryLog;
  if (mode !== undefined && logDetail[mode] > logDetail[org.dnsQueryLog]) {
    found.push(
      `dnsQueryLog: "${mode}" keeps more than the org's "${org.dnsQueryLog}" (a project may only log less)`,
    );
  }
  const days = project.dnsQueryLogRetentionDays;
  if (days !== undefined && days > org.dnsQueryLogRetentionDays) {
    found.push(
      `dnsQueryLogRetentionDays: ${days} days is longer than the org's ${org.dnsQueryLogRetentionDays}`,
    );
  }
  return found;
}

function retentionLoosening(org: number | null, project: number | null | undefined): string | null {
  if (org === null || project === undefined) return null;
  if (project === null)
    return `the org policy deletes data after ${org} days; a project cannot keep it forever`;
  return project > org ? `${project} days is longer than the org's ${org}` : null;
}

type FieldCheck<K extends keyof AudienceRules> = (
  org: AudienceRules[K],
  project: AudienceRules[K],
) => string | null;

/**
 * One check per field. The mapped type makes a new AudienceRules field a
 * compile error here until someone decides what "looser" means for it.
 */
const fieldChecks: { [K in keyof AudienceRules]: FieldCheck<K> } = {
  authMethods: (org, project) => notAllowed(project.filter((m) => !org.includes(m))),
  phishingResistantMfa: (org, project) =>
    org && !project ? 'the org policy requires phishing-resistant MFA (passkeys)' : null,
  allowedAaguids: (org, project) => {
    if (org === null) return null;
    if (project === null) return 'the org policy allows only its listed authenticators';
    return notAllowed(project.filter((a) => !org.includes(a)));
  },
  sessionIdleMinutes: longer,
  sessionAbsoluteHours: longer,
  sourceCidrs: (org, project) => {
    if (org === null) return null;
    if (project === null) return `the org policy allows access only from ${org.join(', ')}`;
    const outside = project.filter((range) => !cidrInside(range, org));
    if (outside.length === 0) return null;
    return `${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} not inside the org's ranges`;
  },
  exportAllowed: (org, project) => (!org && project ? 'the org policy forbids export' : null),
  callsAllowed: (org, project) => (!org && project ? 'the org policy forbids calls' : null),
  deviceVerificationRequired: (org, project) =>
    org && !project ? 'the org policy requires device verification' : null,
};

function audienceLoosenings(
  audience: Audience,
  org: AudienceRules,
  project: Partial<AudienceRules>,
): string[] {
  const found: string[] = [];
  for (const field of Object.keys(fieldChecks) as Array<keyof AudienceRules>) {
    const value = project[field];
    if (value === undefined) continue;
    // The correlated types of field, org[field] and value are lost in the loop.
    const check = fieldChecks[field] as FieldCheck<typeof field>;
    const sentence = check(org[field], value);
    if (sentence !== null) found.push(`${audience}.${field}: ${sentence}`);
  }
  return found;
}

function longer(org: number, project: number): string | null {
  return project > org ? `${project} is longer than the org's ${org}` : null;
}

function notAllowed(extra: readonly string[]): string | null {
  if (extra.length === 0) return null;
  const quoted = extra.map((item) => JSON.stringify(item));
  const list =
    quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
  return `${list} ${extra.length === 1 ? 'is' : 'are'} not allowed by the org policy`;
}

/**
 * Whether every address of `range` lies inside the union of `outer`. The
 * union matters: 10.0.0.0/24 is inside [10.0.0.0/25, 10.0.0.128/25] although
 * inside neither half. Text that does not parse is never inside anything,
 * so a malformed project range counts as a loosening rather than slipping by.
 */
export function cidrInside(range: string, outer: readonly string[]): boolean {
  const inner = parseCidr(range);
  if ('error' in inner) return false;
  const covers = outer
    .map(parseCidr)
    .filter((r): r is AddressRange => !('error' in r))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  // Walk the ranges in order, advancing over the part of `inner` covered so far.
  let next = inner.first;
  for (const cover of covers) {
    if (cover.first > next) break;
    if (cover.last >= next) next = cover.last + 1n;
    if (next > inner.last) return true;
  }
  return false;
}
