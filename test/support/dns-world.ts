/**
 * A DNS world on loopback for the resolver tests: a throwaway PKI, a local
 * authority speaking DNS over TLS and HTTPS ("the internet"; nothing leaves
 * the machine), block lists in files, and our resolver in front of it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  type ClientDefaults,
  type DnsServer,
  type DnsServerOptions,
  type FirewallPolicy,
  type ListSource,
  startDnsServer,
} from '@bulwark/dns';
import { type AuthorityRecord, startTestAuthority, type TestAuthority } from '@bulwark/dns/testing';
import { makeTestPki, type TestPki } from './pki.ts';
import { tempDir } from './temp.ts';

export const defaultPolicy: FirewallPolicy = {
  id: 'default',
  orgId: null,
  blockCategories: ['malware', 'phishing', 'trackers', 'ads'],
  rules: [],
  answer: 'nxdomain',
  sinkhole: { ipv4: null, ipv6: null },
  queryLog: 'full',
};

export const loopbackDefaults: ClientDefaults = {
  policy: defaultPolicy,
  allowedRanges: ['127.0.0.0/8', '::1/128'],
};

/** The internet our resolver forwards to. */
export const internetRecords: AuthorityRecord[] = [
  { name: 'www.example.com', type: 'A', ttl: 300, data: '93.184.215.14' },
  { name: 'www.example.com', type: 'AAAA', ttl: 300, data: '2606:2800:21f:cb07::1' },
  { name: 'short.example.com', type: 'A', ttl: 1, data: '192.0.2.50' },
  { name: 'ads.example.net', type: 'A', ttl: 300, data: '198.51.100.1' },
  { name: 'cdn.ads.example.net', type: 'A', ttl: 300, data: '198.51.100.2' },
  { name: 'good.ads.example.net', type: 'A', ttl: 300, data: '198.51.100.3' },
  { name: 'tracker.example.org', type: 'A', ttl: 300, data: '198.51.100.4' },
  { name: 'metrics.shop.example', type: 'CNAME', ttl: 300, data: 'tracker.example.org' },
  { name: 'rebind.example.com', type: 'A', ttl: 300, data: '192.168.1.10' },
  { name: 'rebind.example.com', type: 'A', ttl: 300, data: '203.0.113.7' },
  { name: 'vpn.example.com', type: 'A', ttl: 300, data: '10.8.0.1' },
  ...Array.from({ length: 30 }, (_, i) => ({
    name: 'big.example.com',
    type: 'TXT',
    ttl: 300,
    data: `v=padding-${i}-${'x'.repeat(60)}`,
  })),
];

/** The local internet: a throwaway PKI and the authority serving internetRecords over DoT and DoH. */
export async function startLocalInternet(
  t: TestContext,
  dir: string,
): Promise<{ pki: TestPki; authority: TestAuthority; tls: { cert: string; key: string } }> {
  const pki = await makeTestPki(join(dir, 'pki'), 'Bulwark DNS test CA');
  const tls = {
    cert: readFileSync(pki.serverCertFile, 'utf8'),
    key: readFileSync(pki.serverKeyFile, 'utf8'),
  };
  const authority = await startTestAuthority({ records: internetRecords, tls });
  t.after(() => authority.close());
  return { pki, authority, tls };
}

export interface DnsWorld {
  pki: TestPki;
  dir: string;
  authority: TestAuthority;
  dns: DnsServer;
  /** PEM contents of the test CA (for kdig +tls-ca and the upstream config). */
  ca: string;
}

export async function startDnsWorld(
  t: TestContext,
  overrides: Partial<DnsServerOptions> & { lists?: ListSource[] } = {},
): Promise<DnsWorld> {
  const dir = tempDir(t, 'bulwark-dns-');
  const { pki, authority, tls } = await startLocalInternet(t, dir);
  const dns = await startDnsServer({
    host: '127.0.0.1',
    udpPort: 0,
    tcpPort: 0,
    dotPort: 0,
    tls,
    upstreams: [{ url: authority.dotUrl, caFile: pki.caFile, serverName: '127.0.0.1' }],
    airGapped: false,
    lists: [],
    defaults: loopbackDefaults,
    upstreamTimeoutMs: 1000,
    ...overrides,
  });
  t.after(() => dns.close());
  return { pki, dir, authority, dns, ca: readFileSync(pki.caFile, 'utf8') };
}

/** Writes a block list file and returns its list source. */
export function listFile(
  dir: string,
  id: string,
  format: ListSource['format'],
  category: ListSource['category'],
  text: string,
  answer?: ListSource['answer'],
): ListSource {
  const path = join(dir, `${id}.txt`);
  writeFileSync(path, text);
  return { id, source: path, format, category, refreshMinutes: 60, ...(answer ? { answer } : {}) };
}
