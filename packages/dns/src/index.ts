/**
 * @bulwark/dns — the organisation's resolver and DNS firewall (docs/dns.md):
 * UDP, TCP, DNS over TLS and DNS over HTTPS in; DoT/DoH upstreams out;
 * internal zones, block lists, policies per client, query log and statistics.
 */
export { DomainMatcher, type Verdict } from './blocklist/matcher.ts';
export {
  type ListFormat,
  type ListRule,
  type NameMatch,
  type ParsedList,
  parseList,
} from './blocklist/parse.ts';
export type { ClientDefaults } from './clients.ts';
export { checkCustomPattern } from './firewall/firewall.ts';
export type { ListSource, ListStatus } from './firewall/lists.ts';
export { hashClientToken } from './listeners/doh.ts';
export { normalizeName, parentsOf } from './names.ts';
export type { QueryLogEntry } from './observe/query-log.ts';
export type { QueryOrigin } from './resolver.ts';
export { type DnsServer, type DnsServerOptions, startDnsServer } from './service.ts';
export * from './types.ts';
export type { UpstreamConfig } from './upstream/upstream.ts';
export { checkZone } from './zones/authority.ts';
export { checkRecord, type RecordCheck } from './zones/records.ts';
