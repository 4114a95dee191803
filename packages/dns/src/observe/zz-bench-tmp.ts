import * as dnsPacket from 'dns-packet';
import { Registry } from 'prom-client';
import { ResponseCache } from '/work/main/packages/dns/src/cache/cache.ts';
import { readQuestion } from '/work/main/packages/dns/src/cache/wire.ts';
import { ClientRateLimiter } from '/work/main/packages/dns/src/limits/rate-limit.ts';
import { createDnsMetrics } from '/work/main/packages/dns/src/observe/metrics.ts';
import { DnsStats } from '/work/main/packages/dns/src/observe/stats.ts';
const resp = new Uint8Array(dnsPacket.encode({ type: 'response', id: 1, flags: 0x180, questions: [{ name: 'www.example.com', type: 'A' }],
  answers: [{ name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.1' }, { name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.2' }] }));
const query = new Uint8Array(dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: 'WWW.example.com', type: 'A' }] }));
const cache = new ResponseCache();
const key = ResponseCache.key('www.example.com', 1, 1, false);
cache.set(key, resp, 0);
function bench(name: string, n: number, f: (i: number) => void) {
  for (let i = 0; i < 10000; i++) f(i);
  const t = performance.now(); for (let i = 0; i < n; i++) f(i);
  console.log(name, (((performance.now() - t) * 1e6) / n).toFixed(0), 'ns/op');
}
bench('readQuestion+key+get', 1e6, (i) => { const q = readQuestion(query)!; cache.get(ResponseCache.key(q.name, q.type, q.class, false), 1000, { id: q.id, allowStale: false, question: query.subarray(12, q.questionEnd) }); });
const rl = new ClientRateLimiter({ queriesPerSecond: 1e9 });
bench('rate v4', 1e6, (i) => rl.check(`10.0.${(i >> 8) & 255}.${i & 255}`, 'udp'));
bench('rate v6', 1e6, (i) => rl.check(`2001:db8:${i & 0xfff}::1`, 'udp'));
const m = createDnsMetrics(new Registry());
const ev = { at: Date.now(), clientAddress: '1.2.3.4', clientId: null, groupId: null, orgId: 'o', protocol: 'udp', name: 'x.example', type: 'A', rcode: 'NOERROR', outcome: 'cached', category: null, rule: null, upstream: null, durationMs: 0.3, logMode: 'off' } as const;
bench('metrics.observe', 1e6, () => m.observe(ev));
const s = new DnsStats();
bench('stats.record', 1e6, () => s.record(ev));
const b = { ...ev, outcome: 'blocked', category: 'trackers' } as const;
bench('stats.record blocked unique names', 1e6, (i) => s.record({ ...b, name: `t${i}.example` }));
