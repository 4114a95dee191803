import type { Answer } from 'dns-packet';
import { parentsOf } from '../names.ts';
import type { Zone } from '../types.ts';
import { freeze, indexZone, type ZoneIndex } from './zone-index.ts';

/**
 * The organisation's own names, answered authoritatively before anything
 * goes upstream. The resolver calls lookup on every query, so it costs a
 * few map probes: one per label to find the zone, one for the name.
 */

export type ZoneAnswer =
  /** NOERROR with data; answers holds any CNAMEs followed, in order, then the data. */
  | { kind: 'answer'; answers: Answer[]; authority: Answer[] }
  /**
   * NOERROR without data, and NXDOMAIN. answers holds the CNAMEs followed to
   * get here (RFC 6604 §3: the rcode is the last name's); authority the SOA
   * of the zone that said no, whose TTL is how long to cache that (RFC 2308).
   */
  | { kind: 'nodata'; answers: Answer[]; authority: Answer[] }
  | { kind: 'nxdomain'; answers: Answer[]; authority: Answer[] }
  /** The chain leaves our zones: resolve target upstream and append what it gives. */
  | { kind: 'cname-out'; answers: Answer[]; target: string }
  /** Not in any internal zone: resolve normally. */
  | null;

/** RFC 1034 §3.6.2 leaves the limit to us; long chains inside one org are mistakes. */
export const maxCnameHops = 8;
/** RFC 8482 §4.2 leaves the TTL of the synthesised HINFO to the operator. */
const anyTtl = 3600;

type Step =
  | { kind: 'data'; answers: readonly Answer[] }
  | { kind: 'cname'; cname: Answer; target: string }
  | { kind: 'nodata' }
  | { kind: 'nxdomain' };

export class ZoneAuthority {
  /** What was wrong with the zones: duplicate apexes, records not served and why. */
  readonly problems: string[] = [];
  readonly #zones = new Map<string, ZoneIndex>();

  /**
   * Builds the indexes once; a snapshot change builds a new authority.
   * When two zones claim one apex, the first is served. One authority
   * answers every client it is asked for, so give it one organisation's
   * zones (another org's would be visible, and could shadow an apex).
   */
  constructor(zones: Zone[]) {
    for (const zone of zones) {
      const { index, problems } = indexZone(zone);
      const label = index?.apex ?? String(zone.name);
      for (const problem of problems) this.problems.push(`zone ${label}: ${problem}`);
      if (!index) continue;
      if (this.#zones.has(index.apex)) {
        this.problems.push(
          `zone ${index.apex} is defined more than once: only the first is served`,
        );
        continue;
      }
      this.#zones.set(index.apex, index);
    }
    // Records under a name that is itself an internal zone are never reached.
    for (const [apex, index] of this.#zones) {
      for (const owner of index.nodes.keys()) {
        const servedBy = this.#zoneFor(owner)?.apex;
        if (servedBy !== apex) {
          this.problems.push(
            `zone ${apex}: ${owner} is inside the zone ${servedBy}, which answers for it instead`,
          );
        }
      }
    }
  }

  /** The most specific internal apex containing the name, or null. */
  zoneOf(name: string): string | null {
    return this.#zoneFor(lowerName(name))?.apex ?? null;
  }

  /**
   * The answer for a query. Names compare case-insensitively; the type is
   * dns-packet's name for it (HTTPS and SVCB arrive as UNKNOWN_65 and
   * UNKNOWN_64). ANY gets one synthesised HINFO "RFC8482" (RFC 8482 §4.2):
   * the small answer, not a full dump of the name for amplification.
   */
  lookup(name: string, type: string): ZoneAnswer {
    let current = lowerName(name);
    let zone = this.#zoneFor(current);
    if (!zone) return null;
    const qtype = queryType(type);
    const answers: Answer[] = [];
    const visited = new Set([current]);
    for (;;) {
      const step = resolve(zone, current, qtype);
      switch (step.kind) {
        case 'data':
          return { kind: 'answer', answers: [...answers, ...step.answers], authority: [] };
        case 'nodata':
        case 'nxdomain':
          return { kind: step.kind, answers, authority: [zone.soa] };
        case 'cname': {
          answers.push(step.cname);
          // A loop or an over-long chain: send what we have; the client's
          // resolver sees an unfinished chain and gives up, as it would with BIND.
          if (answers.length >= maxCnameHops || visited.has(step.target)) {
            return { kind: 'answer', answers, authority: [] };
          }
          const next = this.#zoneFor(step.target);
          if (!next) return { kind: 'cname-out', answers, target: step.target };
          visited.add(step.target);
          current = step.target;
          zone = next;
        }
      }
    }
  }

  #zoneFor(name: string): ZoneIndex | undefined {
    const exact = this.#zones.get(name);
    if (exact) return exact;
    for (const parent of parentsOf(name)) {
      const zone = this.#zones.get(parent);
      if (zone) return zone;
    }
    return undefined;
  }
}

/** Problems with one zone, in words for its admin: the same checks the authority applies. */
export function checkZone(zone: Zone): string[] {
  return indexZone(zone).problems;
}

/** One name in one zone, without following CNAMEs. */
function resolve(zone: ZoneIndex, name: string, qtype: string): Step {
  if (name === zone.apex && qtype === 'SOA') return { kind: 'data', answers: [zone.soa] };
  if (name === zone.apex && qtype === 'NS') return { kind: 'data', answers: [zone.ns] };
  const node = zone.nodes.get(name);
  if (node) return fromNode(node, name, qtype, false);
  if (zone.names.has(name))
    return qtype === 'ANY' ? { kind: 'data', answers: [hinfo(name)] } : { kind: 'nodata' };
  // RFC 4592 §3.3.1: a name that does not exist takes the records of the
  // wildcard at its closest encloser (the nearest existing ancestor), if any.
  for (const parent of parentsOf(name)) {
    if (!zone.names.has(parent)) continue;
    const wildcard = zone.nodes.get(`*.${parent}`);
    return wildcard ? fromNode(wildcard, name, qtype, true) : { kind: 'nxdomain' };
  }
  return { kind: 'nxdomain' }; // not reached: the apex is always in names
}

function fromNode(
  node: Map<string, readonly Answer[]>,
  name: string,
  qtype: string,
  synthesised: boolean,
): Step {
  // Synthesised answers carry the query name as owner (RFC 4592 §3.4.1).
  const own = (answer: Answer): Answer => (synthesised ? freeze({ ...answer, name }) : answer);
  if (qtype === 'ANY') return { kind: 'data', answers: [hinfo(name)] };
  const cname = node.get('CNAME')?.[0];
  if (cname && qtype !== 'CNAME') {
    return { kind: 'cname', cname: own(cname), target: (cname as { data: string }).data };
  }
  const rrset = node.get(qtype);
  if (!rrset) return { kind: 'nodata' };
  return { kind: 'data', answers: synthesised ? rrset.map(own) : rrset };
}

function hinfo(name: string): Answer {
  return { name, type: 'HINFO', ttl: anyTtl, class: 'IN', data: { cpu: 'RFC8482', os: '' } };
}

/** Wire names arrive lower-cased by nobody: case and the trailing dot go here, cheaply. */
function lowerName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Type names as the resolver has them (dns-packet's), mapped to ours. */
function queryType(type: string): string {
  const upper = type.toUpperCase();
  if (upper === 'UNKNOWN_65' || upper === 'TYPE65') return 'HTTPS';
  if (upper === 'UNKNOWN_64' || upper === 'TYPE64') return 'SVCB';
  return upper;
}
