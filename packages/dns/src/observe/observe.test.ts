import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { QueryEvent } from '../types.ts';
import { createDnsMetrics } from './metrics.ts';
import { anonymiseAddress, QueryLogBuffer, type QueryLogEntry, toLogEntry } from './query-log.ts';
import { DnsStats } from './stats.ts';
import { SpaceSaving } from './top-k.ts';

const HOUR = 3_600_000;
/** 2024-01-01T10:00:00Z, an hour boundary. */
const T0 = Date.UTC(2024, 0, 1, 10);

function event(overrides: Partial<QueryEvent> = {}): QueryEvent {
  return {
    at: T0,
    clientAddress: '192.0.2.77',
    clientId: 'client-1',
    groupId: 'group-1',
    orgId: 'org-a',
    protocol: 'udp',
    name: 'www.example.com',
    type: 'A',
    rcode: 'NOERROR',
    outcome: 'answered',
    category: null,
    rule: null,
    upstream: 'quad9',
    durationMs: 12.5,
    logMode: 'full',
    ...overrides,
  };
}

const blocked = (name: string, category: QueryEvent['category'], extra: Partial<QueryEvent> = {}) =>
  event({ name, category, outcome: 'blocked', rcode: 'NXDOMAIN', rule: 'list', ...extra });

/** A deterministic pseudo-random sequence (xorshift), so the skewed stream is the same every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

describe('top-k (Space-Saving)', () => {
  it('is exact while everything fits', () => {
    const top = new SpaceSaving(10);
    for (const [name, n] of [
      ['a', 5],
      ['b', 3],
      ['c', 7],
    ] as const) {
      for (let i = 0; i < n; i++) top.offer(name);
    }
    assert.deepEqual(
      top.top(2).map((t) => [t.name, t.count, t.error]),
      [
        ['c', 7, 0],
        ['a', 5, 0],
      ],
    );
  });

  it('finds the heavy hitters of a skewed stream in bounded memory', () => {
    // 10 heavy names (Zipf-like weights) buried in 200 000 one-off names.
    const next = random(42);
    const truth = new Map<string, number>();
    const top = new SpaceSaving(1000);
    for (let i = 0; i < 300_000; i++) {
      const r = next();
      const name =
        r < 1 / 3
          ? `heavy-${Math.floor(Math.log2(1 / (next() + 1e-9)) % 10)}`
          : `noise-${i}.tracker.example`;
      truth.set(name, (truth.get(name) ?? 0) + 1);
      top.offer(name);
    }
    assert.equal(top.size, 1000);
    const expected = [...truth]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([name]) => name);
    const found = top.top(10);
    assert.deepEqual(found.map((t) => t.name).sort(), [...expected].sort());
    for (const { name, count, error } of found) {
      const real = truth.get(name) ?? 0;
      assert.ok(count >= real && count - error <= real, `${name}: ${count}±${error} vs ${real}`);
    }
  });
});

describe('statistics', () => {
  it('adds up totals, hours, categories, per org and overall', () => {
    const stats = new DnsStats({ startedAt: T0 - 2 * HOUR });
    stats.record(event());
    stats.record(event({ outcome: 'cached' }));
    stats.record(event({ outcome: 'stale', at: T0 + 30 * 60_000 }));
    stats.record(event({ outcome: 'failed', orgId: 'org-b', at: T0 - HOUR }));
    stats.record(blocked('ads.example', 'ads'));
    stats.record(blocked('ads.example', 'ads', { orgId: null }));
    stats.record(blocked('evil.example', 'malware', { orgId: 'org-b' }));

    const all = stats.snapshot({ orgId: null, nowMs: T0 + 45 * 60_000 });
    assert.equal(all.since, '2024-01-01T08:00:00.000Z');
    assert.deepEqual(all.totals, { queries: 7, blocked: 3, cached: 2, failed: 1 });
    assert.deepEqual(all.blockedByCategory, {
      malware: 1,
      phishing: 0,
      trackers: 0,
      ads: 2,
      custom: 0,
    });
    assert.deepEqual(all.topBlocked.ads, [{ name: 'ads.example', count: 2 }]);
    assert.deepEqual(all.topBlocked.phishing, []);
    assert.equal(all.last24h.length, 24);
    assert.equal(all.last24h[23]?.hour, '2024-01-01T10:00:00.000Z');
    assert.equal(all.last24h[0]?.hour, '2023-12-31T11:00:00.000Z');
    assert.deepEqual(all.last24h[23], {
      hour: '2024-01-01T10:00:00.000Z',
      queries: 6,
      blocked: 3,
      cached: 2,
      failed: 0,
    });
    assert.deepEqual(all.last24h[22], {
      hour: '2024-01-01T09:00:00.000Z',
      queries: 1,
      blocked: 0,
      cached: 0,
      failed: 1,
    });
    const sum = all.last24h.reduce((n, h) => n + h.queries, 0);
    assert.equal(sum, all.totals.queries);

    const a = stats.snapshot({ orgId: 'org-a', nowMs: T0 });
    assert.deepEqual(a.totals, { queries: 4, blocked: 1, cached: 2, failed: 0 });
    assert.deepEqual(a.topBlocked.ads, [{ name: 'ads.example', count: 1 }]);
    assert.deepEqual(a.topBlocked.malware, []);
    const b = stats.snapshot({ orgId: 'org-b', nowMs: T0 });
    assert.deepEqual(b.totals, { queries: 2, blocked: 1, cached: 0, failed: 1 });
    const none = stats.snapshot({ orgId: 'org-z', nowMs: T0 });
    assert.deepEqual(none.totals, { queries: 0, blocked: 0, cached: 0, failed: 0 });
  });

  it('forgets hours older than a day but keeps totals', () => {
    const stats = new DnsStats({ startedAt: T0 });
    stats.record(event());
    stats.record(event({ at: T0 + 24 * HOUR })); // same ring slot, a day later
    stats.record(event({ at: T0 + 1 })); // late arrival for a recycled slot
    const snap = stats.snapshot({ orgId: null, nowMs: T0 + 24 * HOUR });
    assert.equal(snap.totals.queries, 3);
    assert.equal(snap.last24h[23]?.queries, 1);
    assert.equal(
      snap.last24h.reduce((n, h) => n + h.queries, 0),
      1,
    );
    const later = stats.snapshot({ orgId: null, nowMs: T0 + 48 * HOUR });
    assert.equal(
      later.last24h.reduce((n, h) => n + h.queries, 0),
      0,
    );
  });

  it('ranks the top blocked names per category, limited to top', () => {
    const stats = new DnsStats({ startedAt: T0, trackedPerCategory: 50 });
    for (let i = 0; i < 5000; i++) stats.record(blocked(`t${i}.tracker.example`, 'trackers'));
    for (let i = 0; i < 100; i++) stats.record(blocked('pixel.example', 'trackers'));
    for (let i = 0; i < 80; i++) stats.record(blocked('beacon.example', 'trackers'));
    for (let i = 0; i < 60; i++) stats.record(blocked('phish.example', 'phishing'));
    const snap = stats.snapshot({ orgId: null, nowMs: T0, top: 2 });
    assert.deepEqual(
      snap.topBlocked.trackers.map((t) => t.name),
      ['pixel.example', 'beacon.example'],
    );
    assert.ok((snap.topBlocked.trackers[0]?.count ?? 0) >= 100);
    assert.deepEqual(snap.topBlocked.phishing, [{ name: 'phish.example', count: 60 }]);
    assert.equal(snap.blockedByCategory.trackers, 5180);
  });
});

describe('query log', () => {
  it('anonymises to the /24 or /48', () => {
    assert.equal(anonymiseAddress('192.0.2.77'), '192.0.2.0');
    assert.equal(anonymiseAddress('::ffff:198.51.100.9'), '198.51.100.0');
    assert.equal(anonymiseAddress('2001:db8:1:2:3:4:5:6'), '2001:db8:1::');
    assert.equal(anonymiseAddress('2001:DB8:0:FFFF::1'), '2001:db8::');
    assert.equal(anonymiseAddress('fe80::1%eth0'), 'fe80::');
    assert.equal(anonymiseAddress('garbage'), '');
  });

  it('applies the log mode', () => {
    assert.equal(toLogEntry(event({ logMode: 'off' })), null);
    const anon = toLogEntry(event({ logMode: 'anonymised' }));
    assert.equal(anon?.client, '192.0.2.0');
    assert.equal(anon?.clientId, null);
    assert.equal(anon?.groupId, 'group-1');
    const full = toLogEntry(event({ logMode: 'full', at: T0 + 1 }));
    assert.deepEqual(full, {
      at: '2024-01-01T10:00:00.001Z',
      client: '192.0.2.77',
      clientId: 'client-1',
      groupId: 'group-1',
      orgId: 'org-a',
      protocol: 'udp',
      name: 'www.example.com',
      type: 'A',
      rcode: 'NOERROR',
      outcome: 'answered',
      category: null,
      rule: null,
      upstream: 'quad9',
      durationMs: 12.5,
    });
  });
});

describe('query log buffer', () => {
  const entry = (i: number) => toLogEntry(event({ name: `n${i}.example` })) as QueryLogEntry;

  it('flushes at maxBatch at once, the rest after the interval, in order', async () => {
    const batches: string[][] = [];
    const buffer = new QueryLogBuffer({
      intervalMs: 30,
      maxBatch: 3,
      flush: async (entries) => {
        batches.push(entries.map((e) => e.name));
      },
    });
    for (let i = 0; i < 4; i++) buffer.push(entry(i));
    await sleep(0);
    assert.deepEqual(batches, [['n0.example', 'n1.example', 'n2.example']]);
    assert.equal(buffer.pending, 1);
    await sleep(80);
    assert.deepEqual(batches[1], ['n3.example']);
    assert.equal(buffer.pending, 0);
    await buffer.close();
  });

  it('drops the oldest beyond maxPending while the sink is slow, and counts them', async () => {
    const written: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const buffer = new QueryLogBuffer({
      intervalMs: 10_000,
      maxBatch: 2,
      maxPending: 3,
      flush: async (entries) => {
        await gate;
        written.push(...entries.map((e) => e.name));
      },
    });
    for (let i = 0; i < 10; i++) buffer.push(entry(i));
    // n0, n1 are in flight; of n2..n9 the newest three are kept.
    assert.equal(buffer.pending, 3);
    assert.equal(buffer.dropped, 5);
    release();
    await buffer.close();
    assert.deepEqual(written, [
      'n0.example',
      'n1.example',
      'n7.example',
      'n8.example',
      'n9.example',
    ]);
    buffer.push(entry(99));
    assert.equal(buffer.dropped, 6, 'pushes after close are dropped');
  });

  it('reports sink failures and carries on; close flushes the remainder', async () => {
    const errors: unknown[] = [];
    const written: string[] = [];
    let calls = 0;
    const buffer = new QueryLogBuffer({
      intervalMs: 10_000,
      maxBatch: 2,
      onError: (error) => errors.push(error),
      flush: (entries) => {
        calls += 1;
        if (calls === 1) throw new Error('database down'); // even a synchronous throw
        written.push(...entries.map((e) => e.name));
        return Promise.resolve();
      },
    });
    for (let i = 0; i < 5; i++) buffer.push(entry(i));
    await buffer.close();
    assert.equal(errors.length, 1);
    assert.equal(buffer.failed, 2);
    assert.deepEqual(written, ['n2.example', 'n3.example', 'n4.example']);
    assert.equal(buffer.pending, 0);
  });

  it('survives an onError that throws', async () => {
    const buffer = new QueryLogBuffer({
      maxBatch: 1,
      onError: () => {
        throw new Error('reporter broken');
      },
      flush: () => Promise.reject(new Error('sink broken')),
    });
    buffer.push(entry(1));
    await buffer.close();
    assert.equal(buffer.failed, 1);
  });
});

describe('metrics', () => {
  it('exposes the series after observations', async () => {
    const registry = new Registry();
    const metrics = createDnsMetrics(registry);
    metrics.observe(event({ protocol: 'doh', outcome: 'cached', durationMs: 0.2 }));
    metrics.observe(event({ protocol: 'doh', outcome: 'cached', durationMs: 0.3 }));
    metrics.observe(event({ protocol: 'udp', outcome: 'answered', durationMs: 0.2 }));
    metrics.observe(event({ protocol: 'udp', outcome: 'answered', durationMs: 0.3 }));
    metrics.observe(blocked('ads.example', 'ads', { durationMs: 1 }));
    metrics.rateLimited('slip');
    metrics.rateLimited('drop');
    metrics.rateLimited('drop');
    metrics.malformed('udp');
    metrics.setCollectors({
      cacheEntries: () => 1234,
      upstreams: () => [
        { id: 'quad9', healthy: true },
        { id: 'cloudflare', healthy: false },
      ],
    });
    const text = await registry.metrics();
    const has = (line: string) => assert.ok(text.includes(line), `missing: ${line}\n${text}`);
    has('bulwark_dns_queries_total{protocol="doh",outcome="cached"} 2');
    has('bulwark_dns_queries_total{protocol="udp",outcome="blocked"} 1');
    has('bulwark_dns_queries_total{protocol="tcp",outcome="failed"} 0');
    has('bulwark_dns_blocked_total{category="ads"} 1');
    has('bulwark_dns_blocked_total{category="malware"} 0');
    has('bulwark_dns_query_duration_seconds_bucket{le="0.00025",outcome="answered"} 1');
    has('bulwark_dns_query_duration_seconds_bucket{le="0.0005",outcome="answered"} 2');
    has('bulwark_dns_query_duration_seconds_count{outcome="answered"} 2');
    // Cache hits are counted, not timed.
    assert.ok(!/bulwark_dns_query_duration_seconds_count\{outcome="cached"\}/.test(text));
    // Counted between scrapes too: a second scrape adds only what came since.
    metrics.observe(event({ protocol: 'doh', outcome: 'cached', durationMs: 0.2 }));
    const again = await registry.metrics();
    assert.ok(again.includes('bulwark_dns_queries_total{protocol="doh",outcome="cached"} 3'));
    has('bulwark_dns_cache_entries 1234');
    has('bulwark_dns_upstream_healthy{upstream="quad9"} 1');
    has('bulwark_dns_upstream_healthy{upstream="cloudflare"} 0');
    has('bulwark_dns_rate_limited_total{action="drop"} 2');
    has('bulwark_dns_rate_limited_total{action="slip"} 1');
    has('bulwark_dns_malformed_total{protocol="udp"} 1');

    // An upstream taken out of the configuration disappears from the next scrape.
    metrics.setCollectors({
      cacheEntries: () => 0,
      upstreams: () => [{ id: 'quad9', healthy: true }],
    });
    const next = await registry.metrics();
    assert.ok(!next.includes('upstream="cloudflare"'));
  });

  it('keeps registries apart (no module singleton)', async () => {
    const one = new Registry();
    const two = new Registry();
    createDnsMetrics(one).malformed('tcp');
    createDnsMetrics(two);
    assert.ok((await one.metrics()).includes('bulwark_dns_malformed_total{protocol="tcp"} 1'));
    assert.ok((await two.metrics()).includes('bulwark_dns_malformed_total{protocol="tcp"} 0'));
  });
});
