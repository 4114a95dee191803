import { createHash } from 'node:crypto';
import type { Answer } from 'dns-packet';
import { normalizeName, parentsOf } from '../names.ts';
import type { Zone, ZoneRecord } from '../types.ts';
import { checkRecord, toAnswer } from './records.ts';

/**
 * One internal zone, read into the maps a lookup needs, plus what was wrong
 * with it. Both the authority (which serves what it can) and checkZone
 * (which tells the admin) go through here, so they never disagree.
 */
export interface ZoneIndex {
  apex: string;
  soa: Answer;
  ns: Answer;
  /** Owner name → type → the RRset, ready to send (one TTL per RRset, frozen: shared by every lookup). */
  nodes: Map<string, Map<string, readonly Answer[]>>;
  /**
   * Every name that exists: owners and each name between them and the apex.
   * A name between (an "empty non-terminal", `_tcp` above `_sip._tcp`)
   * answers NODATA, not NXDOMAIN (RFC 8020), and stops wildcards (RFC 4592 §2.2.2).
   */
  names: Set<string>;
}

/** Negative answers are cached this long (RFC 2308 §5: the SOA's minimum and TTL). */
const negativeTtl = 300;
/** RIPE-203's values; nobody transfers these zones, but resolvers read the SOA. */
const soaTimers = { refresh: 86400, retry: 7200, expire: 3600000, minimum: negativeTtl };
const nsTtl = 3600;

export function indexZone(zone: Zone): { index: ZoneIndex | null; problems: string[] } {
  const apex = typeof zone.name === 'string' ? normalizeName(zone.name) : null;
  if (apex === null)
    return { index: null, problems: [`zone name '${zone.name}' is not a valid domain name`] };
  const problems: string[] = [];

  // Read every record; group the good ones by owner and type, dropping exact repeats.
  const byOwner = new Map<string, Map<string, ZoneRecord[]>>();
  const seen = new Set<string>();
  (Array.isArray(zone.records) ? zone.records : []).forEach((input, i) => {
    const check = checkRecord(input, apex);
    if (!check.ok) {
      problems.push(`record ${i + 1} (${input?.name} ${input?.type}): ${check.error}`);
      return;
    }
    const record = check.record;
    const key = `${record.name} ${record.type} ${record.data}`;
    if (seen.has(key)) {
      problems.push(`${key} appears more than once`);
      return;
    }
    seen.add(key);
    const types = byOwner.get(record.name) ?? new Map<string, ZoneRecord[]>();
    byOwner.set(record.name, types);
    types.set(record.type, [...(types.get(record.type) ?? []), record]);
  });

  const nodes = new Map<string, Map<string, readonly Answer[]>>();
  const names = new Set<string>([apex]);
  for (const [owner, types] of byOwner) {
    const cnames = types.get('CNAME');
    if (cnames) {
      // RFC 1034 §3.6.2: a CNAME owner has no other data. Serving the explicit
      // records and dropping the CNAME is the choice that never answers both.
      const others = [...types.keys()].filter((t) => t !== 'CNAME');
      if (others.length > 0) {
        problems.push(
          `${owner} has a CNAME and other records (${others.join(', ')}): a name with a CNAME can have no other records, so the CNAME is not served`,
        );
        types.delete('CNAME');
      } else if (cnames.length > 1) {
        problems.push(
          `${owner} has ${cnames.length} CNAME records: a name can have only one, so only the first is served`,
        );
        types.set('CNAME', cnames.slice(0, 1));
      }
    }
    const rrsets = new Map<string, readonly Answer[]>();
    for (const [type, records] of types) rrsets.set(type, rrset(records, problems));
    nodes.set(owner, rrsets);
    names.add(owner);
    for (const parent of parentsOf(owner)) {
      if (parent === apex) break;
      names.add(parent);
    }
  }

  const soa = freeze({
    name: apex,
    type: 'SOA',
    ttl: negativeTtl,
    class: 'IN',
    data: {
      mname: `ns.${apex}`,
      rname: `hostmaster.${apex}`,
      serial: serialOf(byOwner),
      ...soaTimers,
    },
  });
  const ns = freeze({ name: apex, type: 'NS', ttl: nsTtl, class: 'IN', data: `ns.${apex}` });
  return { index: { apex, soa, ns, nodes, names }, problems };
}

/**
 * One name's records of one type as answers. RFC 2181 §5.2: an RRset has
 * one TTL; when the admin gave several, the lowest is served (no record
 * outlives what was asked of it).
 */
function rrset(records: ZoneRecord[], problems: string[]): readonly Answer[] {
  const ttls = new Set(records.map((r) => r.ttl));
  const ttl = Math.min(...ttls);
  const first = records[0];
  if (ttls.size > 1 && first) {
    problems.push(
      `${first.name} ${first.type} records have different TTLs (${[...ttls].join(', ')}): records of one name and type share one TTL, so ${ttl} is served`,
    );
  }
  return Object.freeze(records.map((r) => freeze(toAnswer({ ...r, ttl }))));
}

/**
 * The SOA serial: a hash of the zone's content, so it changes when the
 * records do and stays put across restarts (a counter would reset).
 */
function serialOf(byOwner: Map<string, Map<string, ZoneRecord[]>>): number {
  const lines: string[] = [];
  for (const types of byOwner.values()) {
    for (const records of types.values()) {
      for (const r of records) lines.push(`${r.name} ${r.type} ${r.ttl} ${r.data}`);
    }
  }
  return createHash('sha256').update(lines.sort().join('\n')).digest().readUInt32BE(0);
}

/**
 * Answers are shared by every lookup and may sit in the resolver's cache:
 * frozen, so a caller adjusting a TTL in place fails loudly instead of
 * changing the zone for everyone. (Buffers cannot be frozen; nothing writes them.)
 */
export function freeze(answer: Answer): Answer {
  const data: unknown = 'data' in answer ? answer.data : undefined;
  if (typeof data === 'object' && data !== null && !Buffer.isBuffer(data)) Object.freeze(data);
  return Object.freeze(answer);
}
