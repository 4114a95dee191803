/**
 * The shapes the resolver shares with whoever configures it (the server's
 * DNS domain pushes a snapshot of these; tests and the benchmark build them
 * by hand). Pure data: no behaviour, no I/O.
 */

/** Block-list categories a policy turns on; every list and custom rule carries one. */
export const dnsCategories = ['malware', 'phishing', 'trackers', 'ads', 'custom'] as const;
export type DnsCategory = (typeof dnsCategories)[number];

/**
 * What a blocked name gets back. nxdomain: "no such name"; null: 0.0.0.0 / ::
 * for A / AAAA (NODATA for other types); sinkhole: the policy's sinkhole
 * addresses (a page that explains the block); nodata: the name exists but has
 * no record of that type; drop: no answer at all (RPZ's rpz-drop).
 */
export const blockAnswers = ['nxdomain', 'null', 'sinkhole', 'nodata', 'drop'] as const;
export type BlockAnswer = (typeof blockAnswers)[number];

/** off: nothing kept; anonymised: the client's network (/24, /48) only; full: address and client. */
export const queryLogModes = ['off', 'anonymised', 'full'] as const;
export type QueryLogMode = (typeof queryLogModes)[number];

/** Record types internal zones serve. */
export const zoneRecordTypes = [
  'A',
  'AAAA',
  'CNAME',
  'MX',
  'TXT',
  'SRV',
  'CAA',
  'TLSA',
  'HTTPS',
  'SVCB',
] as const;
export type ZoneRecordType = (typeof zoneRecordTypes)[number];

/**
 * One record in presentation form, the way people write zone files:
 * A `192.0.2.1`; AAAA `2001:db8::1`; CNAME `target.example.org`;
 * MX `10 mail.example.org`; TXT `v=spf1 -all` (one string, split into
 * 255-octet pieces on the wire); SRV `10 5 443 host.example.org`;
 * CAA `0 issue "letsencrypt.org"`; TLSA `3 1 1 <hex>`;
 * HTTPS/SVCB `1 . alpn=h2,h3 port=443 ipv4hint=192.0.2.1`.
 */
export interface ZoneRecord {
  /** Owner name, fully qualified, lower case, no trailing dot. */
  name: string;
  type: ZoneRecordType;
  ttl: number;
  data: string;
}

export interface Zone {
  /** The zone's apex, e.g. `corp.example.org`. */
  name: string;
  orgId: string;
  records: ZoneRecord[];
}

/** A block or allow rule an admin wrote (custom rules), in Adblock/domains syntax. */
export interface CustomRule {
  action: 'block' | 'allow';
  /** `ads.example.com` (it and below), `*.example.com` (below only), `/regex/`. */
  pattern: string;
}

/**
 * The firewall settings that apply to one client: computed by the server
 * from the org policy, the project policy and the client group (stricter
 * wins for categories; the most specific layer picks the answer mode).
 */
export interface FirewallPolicy {
  /** Stable id (the client group's, or `default`) for logs and statistics. */
  id: string;
  orgId: string | null;
  blockCategories: DnsCategory[];
  rules: CustomRule[];
  answer: Exclude<BlockAnswer, 'drop' | 'nodata'>;
  /** Used when answer is sinkhole. */
  sinkhole: { ipv4: string | null; ipv6: string | null };
  queryLog: QueryLogMode;
}

/** How a query's client was recognised, most specific first. */
export type ClientIdentity =
  | { kind: 'doh-token'; tokenHash: string }
  | { kind: 'dot-certificate'; fingerprint: string }
  | { kind: 'address'; address: string };

export interface ClientGroup {
  id: string;
  orgId: string;
  projectId: string | null;
  name: string;
  /** Canonical CIDRs whose clients belong here (without a token or certificate). */
  sourceCidrs: string[];
  policy: FirewallPolicy;
}

/** A registered client (one device): a DoH URL token and/or a DoT client certificate. */
export interface DnsClient {
  id: string;
  groupId: string;
  name: string;
  /** SHA-256 (hex) of the DoH URL token; the token itself is never stored. */
  tokenHash: string | null;
  /** SHA-256 (hex) of the client certificate's DER. */
  certFingerprint: string | null;
}

/** Everything the server's directory tells the resolver; replaced whole on each change. */
export interface DnsSnapshot {
  zones: Zone[];
  groups: ClientGroup[];
  clients: DnsClient[];
}

/** One answered query, as the query log and statistics see it. */
export interface QueryEvent {
  at: number;
  /** The client's address; the query log's privacy mode decides what is kept. */
  clientAddress: string;
  clientId: string | null;
  groupId: string | null;
  orgId: string | null;
  protocol: 'udp' | 'tcp' | 'dot' | 'doh';
  name: string;
  type: string;
  rcode: string;
  outcome: 'answered' | 'cached' | 'stale' | 'blocked' | 'internal' | 'refused' | 'failed';
  category: DnsCategory | null;
  /** The list or rule that blocked, when blocked. */
  rule: string | null;
  upstream: string | null;
  durationMs: number;
  logMode: QueryLogMode;
}
