import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { ClientGroup, DnsClient, DnsSnapshot, FirewallPolicy } from './types.ts';
import { ZoneAuthority } from './zones/authority.ts';

/** What a query is answered under: its client's policy and its org's internal zones. */
export interface ClientContext {
  policy: FirewallPolicy;
  group: ClientGroup | null;
  client: DnsClient | null;
  /** Only the client's own org's zones: another org's names are not its business. */
  zones: ZoneAuthority | null;
}

export interface ClientDefaults {
  /** Clients in allowedRanges that no group claims get this policy (and no internal zone). */
  policy: FirewallPolicy;
  /** Source ranges we resolve for at all; everyone else is refused (no open recursion). */
  allowedRanges: string[];
}

interface Ranged {
  group: ClientGroup;
  list: BlockList;
  prefix: number;
}

/**
 * Maps who is asking to what applies to them, most specific first: a
 * registered client's DoH token or DoT certificate (valid from anywhere:
 * that is what lets a laptop on a hotel network keep its policy), then the
 * most specific client-group range holding the source address, then the
 * installation default for the allowed ranges. Built once per snapshot.
 */
export class ClientDirectory {
  readonly #byToken = new Map<string, DnsClient>();
  readonly #byCert = new Map<string, DnsClient>();
  readonly #groups = new Map<string, ClientGroup>();
  readonly #ranged: Ranged[] = [];
  readonly #zones = new Map<string, ZoneAuthority>();
  readonly #allowed: BlockList;
  readonly #defaultContext: ClientContext;

  constructor(snapshot: DnsSnapshot, defaults: ClientDefaults) {
    this.#defaultContext = { policy: defaults.policy, group: null, client: null, zones: null };
    this.#allowed = blockListOf(defaults.allowedRanges);
    for (const group of snapshot.groups) {
      this.#groups.set(group.id, group);
      for (const cidr of group.sourceCidrs) {
        this.#ranged.push({ group, list: blockListOf([cidr]), prefix: prefixOf(cidr) });
      }
    }
    this.#ranged.sort((a, b) => b.prefix - a.prefix);
    for (const client of snapshot.clients) {
      if (!this.#groups.has(client.groupId)) continue;
      if (client.tokenHash) this.#byToken.set(client.tokenHash, client);
      if (client.certFingerprint) this.#byCert.set(client.certFingerprint.toLowerCase(), client);
    }
    const byOrg = new Map<string, DnsSnapshot['zones']>();
    for (const zone of snapshot.zones)
      byOrg.set(zone.orgId, [...(byOrg.get(zone.orgId) ?? []), zone]);
    for (const [orgId, zones] of byOrg) this.#zones.set(orgId, new ZoneAuthority(zones));
  }

  /** True when the token names a registered, unrevoked client. */
  knowsToken(tokenHash: string): boolean {
    return this.#byToken.has(tokenHash);
  }

  /** null: refused (not a client of ours). */
  identify(who: {
    address: string;
    tokenHash?: string;
    certFingerprint?: string;
  }): ClientContext | null {
    const registered =
      (who.tokenHash !== undefined ? this.#byToken.get(who.tokenHash) : undefined) ??
      (who.certFingerprint !== undefined ? this.#byCert.get(who.certFingerprint) : undefined);
    if (registered) {
      const group = this.#groups.get(registered.groupId);
      if (group) return this.#contextOf(group, registered);
    }
    const address = plainAddress(who.address);
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    if (family === null) return null;
    for (const r of this.#ranged) {
      if (r.list.check(address, family)) return this.#contextOf(r.group, null);
    }
    if (this.#allowed.check(address, family)) return this.#defaultContext;
    return null;
  }

  #contextOf(group: ClientGroup, client: DnsClient | null): ClientContext {
    return { policy: group.policy, group, client, zones: this.#zones.get(group.orgId) ?? null };
  }
}

/** ::ffff:192.0.2.1 (a v4 client on a dual-stack socket) → 192.0.2.1. */
export function plainAddress(address: string): string {
  if (!address.startsWith('::ffff:') && !address.startsWith('::FFFF:')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

function prefixOf(cidr: string): number {
  const [network, bits] = cidr.split('/');
  const max = network !== undefined && isIPv4(network) ? 32 : 128;
  return bits === undefined ? max : Number(bits);
}

/** A node BlockList over CIDRs; a malformed one is skipped (the API and config checked them). */
export function blockListOf(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, bits] = cidr.split('/');
    if (network === undefined) continue;
    const family = isIPv4(network) ? 'ipv4' : isIPv6(network) ? 'ipv6' : null;
    if (family === null) continue;
    const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
    try {
      list.addSubnet(network, prefix, family);
    } catch {
      // skipped: see above
    }
  }
  return list;
}
