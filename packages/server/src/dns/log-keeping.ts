import type { QueryLogEntry } from '@bulwark/dns';
import { defaultOrgPolicy, parseCidr } from '../policy/policy.ts';
import type { Storage } from '../storage/storage.ts';
import { ClientGroupStore } from './client-groups.ts';
import { QueryLogStore } from './query-log.ts';
import { DnsPolicyLookup } from './snapshot.ts';

const DAY_MS = 86_400_000;

/**
 * Stores a batch from the resolver's query-log buffer. The resolver already
 * applied each client's privacy mode; the mode is applied again here from
 * the policies as they are now, so a batch built under a snapshot that is a
 * moment old still keeps no more than the org and project allow today
 * (off: nothing; anonymised: the network only, no device). Malformed
 * entries are dropped, fields are bounded. Returns how many were kept.
 */
export async function keepQueries(
  storage: Storage,
  entries: readonly QueryLogEntry[],
): Promise<number> {
  const lookup = new DnsPolicyLookup(storage);
  const groupIds = [...new Set(entries.map((e) => e.groupId).filter((id) => id !== null))];
  const projectOf = new Map<string, string | null>();
  for (const g of await new ClientGroupStore(storage).placement(groupIds)) {
    projectOf.set(g.id, g.projectId);
  }
  const kept: QueryLogEntry[] = [];
  for (const raw of entries) {
    const entry = bounded(raw);
    if (entry === null) continue;
    if (entry.orgId !== null) {
      const projectId = entry.groupId === null ? null : (projectOf.get(entry.groupId) ?? null);
      const { dnsQueryLog } = await lookup.effective(entry.orgId, projectId);
      if (dnsQueryLog === 'off') continue;
      if (dnsQueryLog === 'anonymised') {
        entry.client = networkOf(entry.client);
        entry.clientId = null;
      }
    }
    kept.push(entry);
  }
  await new QueryLogStore(storage).insert(kept);
  return kept.length;
}

/**
 * Deletes what each org's policy no longer keeps (dnsQueryLogRetentionDays),
 * and, for client groups of a project that keeps its log for less, what
 * that project no longer keeps. Entries of no org (the installation's
 * default clients) go after the default retention. Returns how many went.
 */
export async function pruneQueryLog(storage: Storage, now: Date): Promise<number> {
  const log = new QueryLogStore(storage);
  const lookup = new DnsPolicyLookup(storage);
  const cutoff = (days: number) => new Date(now.getTime() - days * DAY_MS);
  let pruned = await log.pruneOrg(null, cutoff(defaultOrgPolicy.dnsQueryLogRetentionDays));
  const orgs = await storage.db.selectFrom('orgs').select('id').execute();
  for (const { id } of orgs) {
    pruned += await log.pruneOrg(id, cutoff((await lookup.org(id)).dnsQueryLogRetentionDays));
  }
  for (const group of await new ClientGroupStore(storage).placement(null)) {
    if (group.projectId === null) continue;
    const org = (await lookup.org(group.orgId)).dnsQueryLogRetentionDays;
    const days = (await lookup.effective(group.orgId, group.projectId)).dnsQueryLogRetentionDays;
    if (days < org) pruned += await log.pruneGroup(group.id, cutoff(days));
  }
  return pruned;
}

const text = (value: unknown, max: number): string | null =>
  typeof value === 'string' ? value.slice(0, max) : null;

/** A copy with every field checked and cut to size; null when it cannot be an entry. */
function bounded(e: QueryLogEntry): QueryLogEntry | null {
  const at = new Date(e.at);
  const name = text(e.name, 300)?.toLowerCase().replace(/\.$/, '');
  if (Number.isNaN(at.getTime()) || name === undefined || name === null) return null;
  return {
    // One spelling, so the text order of `at` is the time order the log pages by.
    at: at.toISOString(),
    client: text(e.client, 64) ?? '',
    clientId: text(e.clientId, 64),
    groupId: text(e.groupId, 64),
    orgId: text(e.orgId, 64),
    protocol: (text(e.protocol, 8) ?? 'udp') as QueryLogEntry['protocol'],
    name,
    type: text(e.type, 16) ?? '',
    rcode: text(e.rcode, 16) ?? '',
    outcome: (text(e.outcome, 16) ?? 'answered') as QueryLogEntry['outcome'],
    category: text(e.category, 16) as QueryLogEntry['category'],
    rule: text(e.rule, 600),
    upstream: text(e.upstream, 300),
    durationMs: Number.isFinite(e.durationMs) ? Math.max(0, Math.round(e.durationMs)) : 0,
  };
}

/**
 * The /24 (IPv4) or /48 (IPv6) network of an address, as the resolver's
 * anonymised mode writes it (`192.0.2.0`, `2001:db8:1::`); masking a
 * network again leaves it as it is. What does not parse becomes ''.
 */
export function networkOf(address: string): string {
  const range = parseCidr(address);
  if ('error' in range) return '';
  const v4 = range.first >> 32n === 0xffffn;
  const keep = v4 ? 96 + 24 : 48;
  const masked = range.first & ~((1n << BigInt(128 - keep)) - 1n);
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((masked >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
  ).join(':');
  const network = parseCidr(`${groups}/${keep}`);
  return 'error' in network ? '' : network.text.replace(/\/\d+$/, '');
}
