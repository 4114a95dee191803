import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { dnsCategories, type QueryEvent } from '../types.ts';

/**
 * Prometheus metrics for the resolver, registered on the registry the caller
 * owns (one per server instance, as in packages/server: no module singleton).
 *
 * Per query this costs a few Map lookups and additions: the labelled child
 * of each series is looked up once and kept, instead of prom-client hashing
 * the label object on every call. Every known label combination is created
 * up front, so series exist (at 0) before the first query and rate() works
 * from the start.
 */

type Protocol = QueryEvent['protocol'];
type Outcome = QueryEvent['outcome'];
export type RateLimitedAction = 'slip' | 'drop';

const protocols: readonly Protocol[] = ['udp', 'tcp', 'dot', 'doh'];
const outcomes: readonly Outcome[] = [
  'answered',
  'cached',
  'stale',
  'blocked',
  'internal',
  'refused',
  'failed',
];
const rateLimitedActions: readonly RateLimitedAction[] = ['slip', 'drop'];

/** From 100 µs (a cache hit) to 2 s (a slow upstream); beyond that is a timeout anyway. */
const durationBuckets = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2,
];

export interface DnsMetricsCollectors {
  cacheEntries: () => number;
  upstreams: () => { id: string; healthy: boolean }[];
}

export interface DnsMetrics {
  /** One answered query. */
  observe(event: QueryEvent): void;
  rateLimited(action: RateLimitedAction): void;
  malformed(protocol: Protocol): void;
  /** Where the gauges read their values at scrape time (until set: 0 entries, no upstreams). */
  setCollectors(collectors: DnsMetricsCollectors): void;
}

/** Outcomes that waited for an upstream: the only ones whose time is worth a histogram. */
const timedOutcomes = new Set(['answered', 'stale', 'failed']);

export function createDnsMetrics(registry: Registry): DnsMetrics {
  // Per-query counts are plain numbers, handed to prom-client when scraped: its label
  // lookup per increment was a tenth of a cached answer's whole cost.
  const pendingQueries = new Map<string, number>();
  const pendingBlocked = new Map<string, number>();
  const queries = new Counter({
    name: 'bulwark_dns_queries_total',
    help: 'DNS queries answered, by transport and outcome',
    labelNames: ['protocol', 'outcome'] as const,
    registers: [registry],
    collect() {
      for (const [key, n] of pendingQueries) {
        const [protocol = '', outcome = ''] = key.split(' ');
        this.labels({ protocol, outcome }).inc(n);
      }
      pendingQueries.clear();
    },
  });
  const blocked = new Counter({
    name: 'bulwark_dns_blocked_total',
    help: 'DNS queries blocked by the firewall, by category',
    labelNames: ['category'] as const,
    registers: [registry],
    collect() {
      for (const [category, n] of pendingBlocked) this.labels({ category }).inc(n);
      pendingBlocked.clear();
    },
  });
  const duration = new Histogram({
    name: 'bulwark_dns_query_duration_seconds',
    help: 'Time to answer DNS queries that went to an upstream (answered, stale, failed); cache hits, blocks and internal answers take microseconds and are only counted',
    labelNames: ['outcome'] as const,
    buckets: durationBuckets,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'bulwark_dns_rate_limited_total',
    help: 'DNS queries over a client rate limit, by action taken (slip: truncated answer, drop)',
    labelNames: ['action'] as const,
    registers: [registry],
  });
  const malformed = new Counter({
    name: 'bulwark_dns_malformed_total',
    help: 'DNS messages that could not be parsed, by transport',
    labelNames: ['protocol'] as const,
    registers: [registry],
  });

  let collectors: DnsMetricsCollectors | null = null;
  new Gauge({
    name: 'bulwark_dns_cache_entries',
    help: 'Responses held in the DNS cache',
    registers: [registry],
    collect() {
      if (collectors !== null) this.set(collectors.cacheEntries());
    },
  });
  new Gauge({
    name: 'bulwark_dns_upstream_healthy',
    help: '1 while an upstream resolver passes health checks, 0 otherwise',
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      // Start from empty so an upstream removed from the configuration disappears.
      this.reset();
      for (const upstream of collectors?.upstreams() ?? []) {
        this.set({ upstream: upstream.id }, upstream.healthy ? 1 : 0);
      }
    },
  });

  // inc(0) and zero() make each known series exist before its first event.
  for (const protocol of protocols) {
    for (const outcome of outcomes) queries.labels({ protocol, outcome }).inc(0);
  }
  const durationChildren = new Map<string, Histogram.Internal<'outcome'>>();
  for (const outcome of timedOutcomes) {
    duration.zero({ outcome });
    durationChildren.set(outcome, duration.labels({ outcome }));
  }
  children(blocked, 'category', dnsCategories);
  const rateLimitedChildren = children(rateLimited, 'action', rateLimitedActions);
  const malformedChildren = children(malformed, 'protocol', protocols);

  return {
    observe(event) {
      // An unexpected label value (a new outcome before this file learns it) still counts.
      const key = `${event.protocol} ${event.outcome}`;
      pendingQueries.set(key, (pendingQueries.get(key) ?? 0) + 1);
      if (timedOutcomes.has(event.outcome)) {
        const timer =
          durationChildren.get(event.outcome) ?? duration.labels({ outcome: event.outcome });
        timer.observe(event.durationMs / 1000);
      }
      if (event.outcome === 'blocked' && event.category !== null) {
        pendingBlocked.set(event.category, (pendingBlocked.get(event.category) ?? 0) + 1);
      }
    },
    rateLimited(action) {
      (rateLimitedChildren.get(action) ?? rateLimited.labels({ action })).inc();
    },
    malformed(protocol) {
      (malformedChildren.get(protocol) ?? malformed.labels({ protocol })).inc();
    },
    setCollectors(next) {
      collectors = next;
    },
  };
}

function children<L extends string>(
  counter: Counter<L>,
  label: L,
  values: readonly string[],
): Map<string, Counter.Internal> {
  const out = new Map<string, Counter.Internal>();
  for (const value of values) {
    const labels = { [label]: value } as Partial<Record<L, string>>;
    const child = counter.labels(labels);
    child.inc(0);
    out.set(value, child);
  }
  return out;
}
